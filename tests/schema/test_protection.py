"""Each limit: a request just under it passes, just over it fails with a stable code and
no work done (no SQL ran, no row written)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from server.http.app import create_app
from server.models import AuditEvent, Institution
from server.models.enums import AccountRole
from tests.conftest import GraphQLClient

REDIS_URL = "redis://127.0.0.1:6379/11"


@asynccontextmanager
async def api(settings, sessions, jobs, events, **changes: Any) -> AsyncIterator[GraphQLClient]:
    app = create_app(
        settings.model_copy(update=changes), sessions=sessions, jobs=jobs, events=events
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


@pytest.fixture
def make_api(settings, sessions, jobs, events):
    return lambda **changes: api(settings, sessions, jobs, events, **changes)


async def refused(gql: GraphQLClient, statements, query: str, code: str, status: int = 200):
    """The request fails with `code` before any SQL statement runs."""
    with statements.measure() as counter:
        response = await gql.post(query)
    assert response.status_code == status, response.text
    errors = response.json()["errors"]
    assert {e["extensions"]["code"] for e in errors} == {code}, errors
    assert counter.count == 0
    return errors[0]


def nested(depth: int) -> str:
    """themes { children { ... { name } } } at `depth` (the root field is at depth 0)."""
    inner = "name"
    for _ in range(depth - 1):
        inner = f"children {{ {inner} }}"
    return f"{{ themes {{ {inner} }} }}"


async def test_depth_limit(make_api, statements):
    async with make_api(max_query_depth=5) as gql:
        await gql(nested(5))
        error = await refused(gql, statements, nested(6), "QUERY_TOO_DEEP")
        assert "exceeds maximum operation depth of 5" in error["message"]


async def test_depth_error_names_the_operation_not_the_caller(make_api, statements):
    """'anonymous' read like the caller: the message names the operation, or says it has
    no name; one error per operation too deep, however many of its branches are."""
    deep = nested(6)[1:-1]  # the selection set, without its braces
    two_branches = "{ a: themes { children { children { children { children { name } } } } }"
    two_branches += " b: themes { children { children { children { children { name } } } } } }"
    async with make_api(max_query_depth=3) as gql:
        error = await refused(gql, statements, nested(6), "QUERY_TOO_DEEP")
        assert error["message"] == "the unnamed operation exceeds maximum operation depth of 3"
        error = await refused(gql, statements, f"query Deep {{{deep}}}", "QUERY_TOO_DEEP")
        assert error["message"] == "operation 'Deep' exceeds maximum operation depth of 3"
        response = await gql.post(two_branches)
        assert [e["message"] for e in response.json()["errors"]] == [
            "the unnamed operation exceeds maximum operation depth of 3"
        ]
        # an operation named "anonymous" is not taken for the unnamed one
        named = f"query anonymous {{{deep}}}"
        error = await refused(gql, statements, named, "QUERY_TOO_DEEP")
        assert error["message"] == "operation 'anonymous' exceeds maximum operation depth of 3"


async def test_token_limit(make_api, statements):
    query = "{ me { role } }"  # 6 tokens
    async with make_api(max_query_tokens=6) as gql:
        await gql(query)
    async with make_api(max_query_tokens=5) as gql:
        error = await refused(gql, statements, query, "QUERY_TOO_LARGE")
        assert "more than 5 tokens" in error["message"]


async def test_alias_limit(make_api, statements):
    async with make_api(max_query_aliases=2) as gql:
        await gql("{ a: me { role } b: me { role } }")
        await refused(
            gql, statements, "{ a: me { role } b: me { role } c: me { role } }", "TOO_MANY_ALIASES"
        )


async def test_cost_limit_counts_connections_by_their_first(make_api, statements):
    # 1 for the request + 50 projects + 50 x 5 (a plain list counts 5 per parent)
    query = "{ projects(first: %d) { nodes { title themes { code } } } }"
    async with make_api(max_query_cost=301) as gql:
        await gql(query % 50)
        error = await refused(gql, statements, query % 51, "QUERY_TOO_COSTLY")
    assert error["extensions"]["cost"] == 1 + 51 + 51 * 5
    assert "over the limit of 301" in error["message"]


async def test_cost_follows_variables_and_fragments(make_api, statements):
    query = """query($n: Int) { ...F }
      fragment F on Query { institutions(first: $n) { nodes { nameEn } } }"""
    async with make_api(max_query_cost=11) as gql:
        assert (await gql.post(query, {"n": 10})).json()["data"]
        with statements.measure() as counter:
            body = (await gql.post(query, {"n": 11})).json()
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert counter.count == 0


async def test_in_process_rate_limit(make_api, statements):
    async with make_api(rate_limit_anonymous_points=3) as gql:
        for left in (2, 1):
            response = await gql.post("{ rateLimit { cost limit remaining resetAt } }")
            assert response.headers["x-ratelimit-limit"] == "3"
            assert response.headers["x-ratelimit-remaining"] == str(left)
            assert int(response.headers["x-ratelimit-reset"]) > 0
            assert response.json()["data"]["rateLimit"]["remaining"] == left
        await gql("{ projects { totalCount } }")
        error = await refused(gql, statements, "{ projects { totalCount } }", "RATE_LIMITED", 429)
        assert "rate limit exceeded" in error["message"]
        assert error["extensions"]["remaining"] == 0


async def test_rate_limit_is_per_principal(make_api, make_token):
    async with make_api(rate_limit_anonymous_points=1, rate_limit_points=2) as gql:
        await gql("{ me { role } }")
        assert (await gql.post("{ me { role } }")).status_code == 429
        signed_in = gql.as_(await make_token(AccountRole.RESEARCHER))
        data = await signed_in("{ rateLimit { limit remaining cost } }")
        assert data["rateLimit"] == {"limit": 2, "remaining": 1, "cost": 1}


async def test_no_rate_limit_when_set_to_zero(make_api):
    async with make_api(rate_limit_anonymous_points=0) as gql:
        response = await gql.post("{ rateLimit { remaining } }")
        assert response.json()["data"] == {"rateLimit": None}
        assert "x-ratelimit-limit" not in response.headers


async def test_redis_rate_limit_is_shared_by_replicas(
    settings, sessions, jobs, events, make_token, statements
):
    """Two API replicas on one Redis draw on one budget (real Redis)."""
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    token = await make_token(AccountRole.RESEARCHER, user=f"rl-{uuid.uuid4().hex[:6]}")
    try:
        one = api(settings, sessions, jobs, events, redis_url=REDIS_URL, rate_limit_points=3)
        two = api(settings, sessions, jobs, events, redis_url=REDIS_URL, rate_limit_points=3)
        async with one as first, two as second:
            await first.as_(token)("{ me { role } }")
            with statements.measure() as baseline:  # what authenticating the token costs
                await second.as_(token)("{ __typename }")
            response = await first.as_(token).post("{ me { role } }")
            assert response.headers["x-ratelimit-remaining"] == "0"
            with statements.measure() as counter:
                response = await second.as_(token).post("{ projects { totalCount } }")
            assert response.status_code == 429
            assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
            assert counter.count == baseline.count  # the token lookup, nothing else
            keys = await redis.keys("satreps:ratelimit:account:*")
            assert len(keys) == 1 and int(await redis.get(keys[0])) == 3
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_introspection_can_be_turned_off(make_api, statements):
    query = "{ __schema { queryType { name } } }"
    async with make_api() as gql:
        assert (await gql(query))["__schema"]["queryType"]["name"] == "Query"
    async with make_api(graphql_introspection=False) as gql:
        error = await refused(gql, statements, query, "INTROSPECTION_DISABLED")
        assert "introspection" in error["message"]
        await gql("{ me { role } }")


async def test_field_suggestions_can_be_turned_off(make_api):
    query = "{ projectz { totalCount } }"
    async with make_api() as gql:
        (error,) = await gql.errors(query)
        assert "Did you mean" in error["message"]
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    async with make_api(field_suggestions=False) as gql:
        (error,) = await gql.errors(query)
        assert error["message"] == "Cannot query field 'projectz' on type 'Query'."
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_syntax_errors_have_a_code(gql):
    (error,) = await gql.errors("{ me { role }")
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_execution_timeout(make_api):
    async with make_api(execution_timeout_seconds=1e-9) as gql:
        (error,) = await gql.errors("{ projects { totalCount } }")
        assert error["extensions"]["code"] == "TIMEOUT"
        assert "stopped" in error["message"]
    # (the cancelled request's connection is discarded: in this test it is the shared one)


async def test_body_cap_does_no_work(gql, statements, settings):
    query = "{ me { role } }" + " " * settings.max_body_bytes
    with statements.measure() as counter:
        response = await gql.post(query)
    assert response.status_code == 413
    assert counter.count == 0


async def test_a_refused_mutation_writes_nothing(make_api, make_token, sessions):
    token = await make_token(AccountRole.ADMIN)
    many = " ".join(
        f'm{i}: createInstitution(input: {{nameEn: "Inst {i}", country: "JP", kind: UNIVERSITY}})'
        " { errors { code } }"
        for i in range(3)
    )
    async with make_api(max_query_aliases=2) as gql:
        (error,) = await gql.errors(f"mutation {{ {many} }}", token=token)
        assert error["extensions"]["code"] == "TOO_MANY_ALIASES"
    async with sessions() as session:
        assert await session.scalar(select(func.count(Institution.id))) == 0
        assert await session.scalar(select(func.count(AuditEvent.id))) == 0


async def test_multipart_needs_the_preflight_header(gql):
    files = {"operations": (None, "{}"), "map": (None, "{}")}
    response = await gql.http.post("/graphql", files=files)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"


def test_limits_do_not_defeat_the_validation_cache():
    from schema.protection import validation_rules

    assert validation_rules(12, 30, True) is validation_rules(12, 30, True)
