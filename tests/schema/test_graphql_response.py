"""application/graphql-response+json (GraphQL over HTTP): request errors answer 4xx without a
`data` entry; application/json clients are answered as ever (200, `data: null`)."""

from __future__ import annotations

import pytest

from server.http.media import GRAPHQL_RESPONSE, negotiate
from tests.schema.test_protection import api

NEW = {"Accept": GRAPHQL_RESPONSE}
OLD = {"Accept": "application/json"}


@pytest.fixture
def make_api(settings, sessions, jobs, events):
    return lambda **changes: api(settings, sessions, jobs, events, **changes)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, application/json;q=0.9", GRAPHQL_RESPONSE),
        (f"application/json, {GRAPHQL_RESPONSE}", "application/json"),
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0, application/json", "application/json"),
        (f"{GRAPHQL_RESPONSE};charset=latin1, */*;q=0.1", "application/json"),
        ("text/html", "application/json"),
    ],
)
def test_negotiate(accept, expected):
    assert negotiate(accept) == expected


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ themes { ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ themes { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($n: Int) { institutions(first: $n) { totalCount } }", {"n": "ten"}, None),
    ],
    ids=["parse", "validation", "variables"],
)
async def test_request_errors_are_400_without_data(client, query, variables, code):
    body = {"query": query, "variables": variables}
    new = await client.post("/graphql", json=body, headers=NEW)
    assert new.status_code == 400, new.text
    assert new.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in new.json()
    if code is not None:
        assert new.json()["errors"][0]["extensions"]["code"] == code
    old = await client.post("/graphql", json=body, headers=OLD)
    assert old.status_code == 200
    assert old.headers["content-type"].startswith("application/json")
    assert old.json()["data"] is None
    assert old.json()["errors"] == new.json()["errors"]


async def test_answers_keep_their_data_in_the_new_media_type(client):
    body = {"query": "{ themes { code } institutions { totalCount } }"}
    for _ in range(2):  # the second time from the compiled fast path
        response = await client.post("/graphql", json=body, headers=NEW)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert response.json()["data"]["institutions"] == {"totalCount": 0}
    # a field error is an answer: data stays, status 200
    missing = {"query": '{ node(id: "VGhlbWU6OTk5OTk=") { id } }'}
    response = await client.post("/graphql", json=missing, headers=NEW)
    assert response.status_code == 200
    assert response.json()["data"] == {"node": None}


async def test_refusals_before_execution_have_no_data(make_api):
    async with make_api(rate_limit_anonymous_points=1, max_query_cost=5) as gql:
        costly = await gql.http.post(
            "/graphql", json={"query": "{ projects(first: 9) { totalCount } }"}, headers=NEW
        )
        assert costly.status_code == 400
        assert costly.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert "data" not in costly.json()
        body = {"query": "{ me { role } }"}
        assert (await gql.http.post("/graphql", json=body, headers=NEW)).status_code == 200
        limited = await gql.http.post("/graphql", json=body, headers=NEW)
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith(GRAPHQL_RESPONSE)
        assert "data" not in limited.json()


async def test_http_refusals_follow_the_media_type(client):
    bad_token = {**NEW, "Authorization": "Bearer nope"}
    response = await client.post("/graphql", json={"query": "{ me { role } }"}, headers=bad_token)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in response.json()
    old = await client.post(
        "/graphql", json={"query": "{ me { role } }"}, headers={"Authorization": "Bearer nope"}
    )
    assert old.json()["data"] is None
