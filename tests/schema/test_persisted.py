"""Persisted documents (server/http/persisted.py): Apollo's automatic persisted queries,
queries over GET cached by HTTP (server/http/caching.py) and the trusted-documents mode."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import func, select

from server.core.config import Settings
from server.http.app import create_app
from server.http.persisted import DocumentCache, TrustedDocumentsError
from server.models import Institution
from server.models.enums import AccountRole
from tests.schema.test_protection import api

THEMES = "{ themes { code } }"
COUNT = "query Count { institutions { totalCount } }"
CREATE = """mutation { createInstitution(input: {nameEn: "Via GET", country: "JP",
    kind: UNIVERSITY}) { institution { id } } }"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(digest: str, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def get_params(query: str | None, digest: str | None = None) -> dict:
    params = {}
    if query is not None:
        params["query"] = query
    if digest is not None:
        params["extensions"] = json.dumps(persisted(digest))
    return params


@pytest.fixture
def make_api(settings, sessions, jobs, events):
    return lambda **changes: api(settings, sessions, jobs, events, **changes)


def code(response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


async def test_automatic_persisted_queries(client):
    digest = sha(COUNT)
    unknown = await client.post("/graphql", json={"extensions": persisted(digest)})
    assert unknown.status_code == 200  # as Apollo Server: the client sends the text next
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    registered = await client.post(
        "/graphql", json={"query": COUNT, "extensions": persisted(digest)}
    )
    assert registered.json() == {"data": {"institutions": {"totalCount": 0}}}
    for _ in range(2):  # then by hash alone, the second time from the fast path
        by_hash = await client.post("/graphql", json={"extensions": persisted(digest)})
        assert by_hash.json() == registered.json()


async def test_a_document_that_does_not_validate_is_not_registered(client):
    text = "{ nope }"
    body = {"query": text, "extensions": persisted(sha(text))}
    assert code(await client.post("/graphql", json=body)) == "GRAPHQL_VALIDATION_FAILED"
    again = await client.post("/graphql", json={"extensions": persisted(sha(text))})
    assert code(again) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_hits_the_compiled_plan_without_the_text(make_api):
    """A document answered once (sent as text) is answered by its hash from its compiled
    plan: the text is not looked up (it was never registered) nor parsed."""
    async with make_api(apq_cache_bytes=0) as gql:
        for _ in range(2):  # the second run keeps the plan
            themes = await gql(THEMES)
        response = await gql.http.post("/graphql", json={"extensions": persisted(sha(THEMES))})
        assert response.status_code == 200
        assert response.json() == {"data": themes}
        other = await gql.http.post("/graphql", json={"extensions": persisted(sha(COUNT))})
        assert code(other) == "PERSISTED_QUERY_NOT_SUPPORTED"  # APQ off, no plan


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"query": THEMES, "extensions": persisted(sha(COUNT))}, "PERSISTED_QUERY_HASH_MISMATCH"),
        ({"extensions": persisted(sha(THEMES), version=2)}, "PERSISTED_QUERY_VERSION_UNSUPPORTED"),
        ({"extensions": persisted("abc")}, "PERSISTED_QUERY_INVALID"),
        ({"extensions": {"persistedQuery": "x"}}, "PERSISTED_QUERY_INVALID"),
    ],
    ids=["mismatch", "version", "short-hash", "not-an-object"],
)
async def test_bad_persisted_requests_are_400(client, body, expected):
    for _ in range(2):  # never from the fast path, even once the text has a plan
        response = await client.post("/graphql", json=body)
        assert response.status_code == 400
        assert code(response) == expected
        await client.post("/graphql", json={"query": THEMES})


async def test_not_found_in_the_new_media_type_is_400_without_data(client):
    response = await client.post(
        "/graphql",
        json={"extensions": persisted(sha(COUNT))},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert code(response) == "PERSISTED_QUERY_NOT_FOUND"
    assert "data" not in response.json()


def test_the_apq_cache_is_bounded_by_bytes():
    cache = DocumentCache(limit=10)
    cache.put("a", "1234")
    cache.put("b", "1234")
    cache.get("a")  # a is the most recently used now
    cache.put("c", "1234")  # 12 bytes: b goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("1234", None, "1234")
    cache.put("d", "x" * 11)  # larger than the whole cache: not kept
    assert cache.get("d") is None and cache.size == 8


async def test_get_queries_are_cached_by_http(client, make_token):
    first = await client.get("/graphql", params=get_params(COUNT))
    assert first.status_code == 200
    assert first.json() == {"data": {"institutions": {"totalCount": 0}}}
    assert first.headers["cache-control"] == "public, max-age=60"
    vary = {v.strip() for v in first.headers["vary"].split(",")}
    assert {"Accept", "Accept-Language", "Authorization"} <= vary  # languages pick texts
    etag = first.headers["etag"]
    for _ in range(2):  # strawberry, then the fast path: the same answer, the same tag
        again = await client.get(
            "/graphql", params=get_params(COUNT), headers={"If-None-Match": etag}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=60"
    stale = await client.get(
        "/graphql", params=get_params(COUNT), headers={"If-None-Match": '"other"'}
    )
    assert stale.status_code == 200 and stale.headers["etag"] == etag
    token = await make_token(AccountRole.RESEARCHER)
    private = await client.get(
        "/graphql",
        params=get_params(COUNT),
        headers={"Authorization": f"Bearer {token}", "If-None-Match": etag},
    )
    assert private.status_code == 200
    assert private.headers["cache-control"] == "private, no-store"
    assert "etag" not in private.headers
    failed = await client.get("/graphql", params=get_params("{ nope }"))
    assert failed.headers["cache-control"] == "no-store"


async def test_persisted_queries_over_get(client):
    digest = sha(COUNT)
    unknown = await client.get("/graphql", params=get_params(None, digest))
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.headers["cache-control"] == "no-store"  # never cached: the text comes next
    await client.get("/graphql", params=get_params(COUNT, digest))
    for _ in range(2):
        by_hash = await client.get(
            "/graphql", params=get_params(None, digest), headers={"Accept": "*/*"}
        )
        assert by_hash.json() == {"data": {"institutions": {"totalCount": 0}}}
        assert by_hash.headers["cache-control"] == "public, max-age=60"


async def test_get_cache_max_age_is_a_setting(make_api):
    async with make_api(get_cache_max_age=240) as gql:
        response = await gql.http.get("/graphql", params=get_params(THEMES))
        assert response.headers["cache-control"] == "public, max-age=240"


async def test_mutations_over_get_are_405(client, make_token, sessions):
    token = await make_token(AccountRole.ADMIN)
    for accept in ("application/json", "application/graphql-response+json"):
        response = await client.get(
            "/graphql",
            params=get_params(CREATE),
            headers={"Authorization": f"Bearer {token}", "Accept": accept},
        )
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert response.headers["content-type"].startswith(accept)
        assert code(response) == "METHOD_NOT_ALLOWED"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Institution)) == 0


# ---- trusted documents ------------------------------------------------------------------


@pytest.fixture
def documents(tmp_path):
    folder = tmp_path / "documents"
    (folder / "nested").mkdir(parents=True)
    (folder / "themes.graphql").write_text(THEMES)
    (folder / "nested" / "count.graphql").write_text(COUNT + "\n")
    return folder


async def test_trusted_documents_only(make_api, documents):
    count = COUNT + "\n"  # the file's text exactly
    async with make_api(trusted_documents=documents, trusted_documents_only=True) as gql:
        by_hash = await gql.http.post("/graphql", json={"extensions": persisted(sha(count))})
        assert by_hash.json() == {"data": {"institutions": {"totalCount": 0}}}
        as_text = await gql.http.post("/graphql", json={"query": THEMES})
        assert as_text.status_code == 200 and as_text.json()["data"]["themes"]
        other = await gql.http.post("/graphql", json={"query": "{ me { role } }"})
        assert other.status_code == 400
        assert code(other) == "PERSISTED_QUERY_NOT_IN_LIST"
        text = "{ me { role } }"
        register = {"query": text, "extensions": persisted(sha(text))}
        refused = await gql.http.post("/graphql", json=register)
        assert code(refused) == "PERSISTED_QUERY_NOT_IN_LIST"  # APQ registers nothing
        unknown = await gql.http.post("/graphql", json={"extensions": persisted(sha(text))})
        assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
        on_get = await gql.http.get("/graphql", params=get_params(text))
        assert code(on_get) == "PERSISTED_QUERY_NOT_IN_LIST"
        multipart = await gql.http.post(
            "/graphql",
            data={"operations": json.dumps({"query": text}), "map": "{}"},
            files={"unused": ("a.txt", b"x")},
            headers={"Apollo-Require-Preflight": "true"},
        )
        assert code(multipart) == "PERSISTED_QUERY_NOT_IN_LIST"


async def test_trusted_documents_from_a_manifest_beside_apq(make_api, tmp_path):
    manifest = tmp_path / "manifest.json"
    operations = [{"id": sha(COUNT), "name": "Count", "type": "query", "body": COUNT}]
    manifest.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    async with make_api(trusted_documents=manifest) as gql:
        by_hash = await gql.http.post("/graphql", json={"extensions": persisted(sha(COUNT))})
        assert by_hash.json()["data"] == {"institutions": {"totalCount": 0}}
        # not only trusted: other documents run, and APQ registers them
        assert (await gql.http.post("/graphql", json={"query": THEMES})).status_code == 200
        body = {"query": THEMES, "extensions": persisted(sha(THEMES))}
        assert (await gql.http.post("/graphql", json=body)).json()["data"]["themes"]
        by_hash = {"extensions": persisted(sha(THEMES))}
        assert (await gql.http.post("/graphql", json=by_hash)).json()["data"]["themes"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"0" * 64: THEMES}, "is not the sha256 of its body"),
        ({sha("{ nope }"): "{ nope }"}, "Cannot query field 'nope'"),
        ([THEMES], "not a persisted-query manifest"),
    ],
    ids=["wrong-id", "invalid-document", "not-a-manifest"],
)
def test_a_bad_trusted_documents_source_stops_the_app(settings, tmp_path, content, problem):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(content))
    with pytest.raises(TrustedDocumentsError, match=problem):
        create_app(settings.model_copy(update={"trusted_documents": manifest}))


def test_trusted_only_needs_documents(settings):
    with pytest.raises(TrustedDocumentsError, match="SATREPS_TRUSTED_DOCUMENTS"):
        create_app(settings.model_copy(update={"trusted_documents_only": True}))


def test_trusted_documents_are_read_from_the_environment(monkeypatch, documents):
    monkeypatch.setenv("SATREPS_TRUSTED_DOCUMENTS", str(documents))
    monkeypatch.setenv("SATREPS_TRUSTED_DOCUMENTS_ONLY", "true")
    settings = Settings()
    assert settings.trusted_documents == documents and settings.trusted_documents_only


def test_the_documents_command_lists_checks_and_writes_a_manifest(documents, tmp_path):
    from tests.server.test_cli import assert_clean_failure, satreps

    out = tmp_path / "manifest.json"
    result = satreps(
        "sqlite+aiosqlite:///unused.db",
        tmp_path,
        "documents",
        str(documents),
        "--manifest",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.splitlines()[:-1])
    assert lines == sorted([f"{sha(THEMES)}  query -", f"{sha(COUNT + chr(10))}  query Count"])
    written = json.loads(out.read_text())
    assert written["format"] == "apollo-persisted-query-manifest"
    assert {op["id"]: op["body"] for op in written["operations"]} == {
        sha(THEMES): THEMES,
        sha(COUNT + "\n"): COUNT + "\n",
    }
    (documents / "bad.graphql").write_text("{ nope }")
    failed = satreps("sqlite+aiosqlite:///unused.db", tmp_path, "documents", str(documents))
    assert_clean_failure(failed, "Cannot query field 'nope'")


async def test_a_written_manifest_is_served(make_api, documents, tmp_path):
    from server.http.persisted import manifest, read_trusted

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest(read_trusted(documents))))
    async with make_api(trusted_documents=path, trusted_documents_only=True) as gql:
        body = {"extensions": persisted(sha(THEMES))}
        assert (await gql.http.post("/graphql", json=body)).json()["data"]["themes"]
