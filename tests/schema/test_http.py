"""Bad requests get clear errors, never a 500 and never a half-written row."""

from __future__ import annotations

import pytest

from schema import errors as schema_errors
from server.institutions import service as institutions

COUNT = "{ institutions { totalCount } }"


async def test_malformed_json_body_is_400(client):
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "JSON" in response.text


async def test_missing_query_is_400(client):
    response = await client.post("/graphql", json={"variables": {}})
    assert response.status_code == 400


async def test_syntax_error(gql):
    errors = await gql.errors("{ institutions { ")
    assert errors[0]["message"].startswith("Syntax Error")


async def test_unknown_field(gql):
    errors = await gql.errors("{ institutions { nope } }")
    assert "Cannot query field 'nope'" in errors[0]["message"]


async def test_wrong_variable_type(gql):
    errors = await gql.errors(
        "query($n: Int) { institutions(first: $n) { totalCount } }", {"n": "ten"}
    )
    assert "Int cannot represent" in errors[0]["message"]


async def test_wrong_enum_value(admin):
    mutation = """mutation { createInstitution(input: {nameEn: "X", country: "JP", kind: CASTLE}) {
        errors { code } } }"""
    errors = await admin.errors(mutation)
    assert "CASTLE" in errors[0]["message"]


async def test_oversized_body_is_413(client, settings):
    big = "x" * (settings.max_body_bytes + 1)
    response = await client.post(
        "/graphql", json={"query": "{ me { role } }", "variables": {"pad": big}}
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_a_chunked_body_is_read_up_to_the_limit(client, settings):
    """A JSON body sent without a Content-Length (chunked) is refused as soon as it passes
    the limit; within it, it is answered as any other, the fast path included."""
    import json

    def chunked(payload: dict[str, object]) -> object:
        raw = json.dumps(payload).encode()

        async def chunks() -> object:
            for at in range(0, len(raw), 1000):
                yield raw[at : at + 1000]

        return chunks()

    headers = {"Content-Type": "application/json"}
    big = {"query": "{ themes { code } }", "variables": {"pad": "x" * settings.max_body_bytes}}
    refused = await client.post("/graphql", content=chunked(big), headers=headers)
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    small = {"query": "{ themes { code } }"}
    sized = await client.post("/graphql", json=small)
    for _ in range(2):  # the second time from the fast path
        answer = await client.post("/graphql", content=chunked(small), headers=headers)
        assert "content-length" not in answer.request.headers
        assert answer.status_code == 200 and answer.json() == sized.json()


async def test_deep_queries_are_refused(gql):
    deep = "{ themes { " + "children { " * 12 + "id" + " }" * 12 + " } }"
    errors = await gql.errors(deep)
    assert "exceeds maximum operation depth" in errors[0]["message"]


async def test_unexpected_errors_are_masked_and_rolled_back(admin, monkeypatch: pytest.MonkeyPatch):
    before = (await admin(COUNT))["institutions"]["totalCount"]
    original = institutions.create_institution

    async def half_then_crash(session, principal, values):
        await original(session, principal, values)  # a row is flushed ...
        raise RuntimeError("disk on fire at /secret/path")  # ... then something breaks

    monkeypatch.setattr(institutions, "create_institution", half_then_crash)
    mutation = """mutation { createInstitution(input: {nameEn: "Ghost", country: "JP", kind: NGO}) {
        institution { id } errors { code } } }"""
    errors = await admin.errors(mutation)
    assert errors[0]["message"] == "Unexpected error."
    assert "secret" not in str(errors)
    monkeypatch.setattr(institutions, "create_institution", original)
    assert (await admin(COUNT))["institutions"]["totalCount"] == before


def test_domain_and_client_errors_are_not_masked():
    from graphql import GraphQLError

    from server.core.errors import DomainError

    assert schema_errors.should_mask(GraphQLError("x", original_error=RuntimeError()))
    assert not schema_errors.should_mask(
        GraphQLError("x", original_error=DomainError.one("C", "m"))
    )
    assert not schema_errors.should_mask(GraphQLError("Syntax Error"))
