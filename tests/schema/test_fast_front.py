"""The fast path's pass in the request middleware (server/http/fast_answer.py, issue 26): a
JSON POST of a document seen before is answered before routing, with everything the long
way gives it: the same body and media type, the request id, the rate-limit headers and
charge, the metrics and the access log line. What it cannot answer reaches the endpoint,
tried and charged once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from server.core.metrics import REQUESTS
from server.http.app import GraphQLEndpoint, create_app
from server.models.enums import AccountRole

QUERY = {"query": "query Menu { themes { code } }"}


@pytest.fixture
def endpoint_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests that reached the GraphQL endpoint (past the middleware's pass)."""
    calls: list[str] = []
    original = GraphQLEndpoint.__call__

    async def counted(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            calls.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(GraphQLEndpoint, "__call__", counted)
    return calls


def served(settings: Any, sessions: Any, jobs: Any, events: Any, **update: Any) -> Any:
    limited = settings.model_copy(update={"rate_limit_anonymous_points": 100, **update})
    return create_app(limited, sessions=sessions, jobs=jobs, events=events)


async def test_a_document_seen_before_is_answered_before_routing_as_the_long_way_would(
    settings, sessions, jobs, events, endpoint_calls, log_lines
):
    app = served(settings, sessions, jobs, events)
    headers = {
        "Accept": "application/graphql-response+json",
        "Accept-Language": "ja",
    }
    counted = REQUESTS.labels("/graphql", "POST", "200")
    before = counted._value.get()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            long_way = await http.post(
                "/graphql", json=QUERY, headers={**headers, "X-Request-ID": "first-1"}
            )
            reached = len(endpoint_calls)
            front = await http.post(
                "/graphql", json=QUERY, headers={**headers, "X-Request-ID": "second-2"}
            )
            made_up = await http.post("/graphql", json=QUERY, headers=headers)
    assert reached == 1 and len(endpoint_calls) == 1, endpoint_calls  # not reached again
    assert long_way.status_code == front.status_code == 200
    assert front.json() == long_way.json() and front.json()["data"]["themes"]
    for name in ("content-type", "x-ratelimit-limit"):
        assert front.headers[name] == long_way.headers[name], name
    assert front.headers["content-type"] == "application/graphql-response+json"
    assert front.headers["x-request-id"] == "second-2"
    assert len(made_up.headers["x-request-id"]) == 32
    assert made_up.headers["x-request-id"] != front.headers["x-request-id"]
    remaining = [int(a.headers["x-ratelimit-remaining"]) for a in (long_way, front, made_up)]
    assert remaining[0] - remaining[1] == remaining[1] - remaining[2] > 0  # charged alike
    assert counted._value.get() - before == 3
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    (entry,) = [e for e in lines if e.get("request_id") == "second-2"]
    assert entry["operation"] == "Menu" and entry["status"] == 200 and entry["method"] == "POST"


async def test_a_token_seen_before_is_answered_before_routing(
    settings, sessions, jobs, events, endpoint_calls, make_token
):
    app = served(settings, sessions, jobs, events)
    headers = {"Authorization": f"Bearer {await make_token(AccountRole.RESEARCHER)}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            first = await http.post("/graphql", json=QUERY, headers=headers)
            second = await http.post("/graphql", json=QUERY, headers=headers)
            unknown = await http.post(
                "/graphql", json=QUERY, headers={"Authorization": "Bearer not-a-token"}
            )
            # a second Authorization header: the first counts, as the long way reads it
            doubled = await http.post(
                "/graphql",
                json=QUERY,
                headers=[("Authorization", headers["Authorization"]), ("Authorization", "x")],
            )
    assert first.status_code == second.status_code == doubled.status_code == 200
    assert first.json() == second.json() == doubled.json()
    assert unknown.status_code == 401  # an unknown token goes the long way, and is refused
    assert endpoint_calls == ["/graphql", "/graphql"]  # the first and the unknown token


async def test_what_the_pass_cannot_answer_reaches_the_endpoint_charged_once(
    settings, sessions, jobs, events, endpoint_calls
):
    """A new document, a form post and a GET go on to the endpoint; a request the pass
    tried (its document known, the database failing) is charged once and answered there."""
    from schema.compiled import fast

    app = served(settings, sessions, jobs, events)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            first = await http.post("/graphql", json=QUERY)
            by_get = await http.get("/graphql", params=QUERY)
            assert len(endpoint_calls) == 2

            async def failing(*_: Any) -> str:
                raise RuntimeError("the database went away")

            fast_answer = fast.answer
            fast.answer = failing  # type: ignore[assignment]
            try:
                handed_on = await http.post("/graphql", json=QUERY)
            finally:
                fast.answer = fast_answer  # type: ignore[assignment]
            again = await http.post("/graphql", json=QUERY)
    assert len(endpoint_calls) == 3  # the failed one reached the endpoint, the next did not
    assert by_get.status_code == handed_on.status_code == again.status_code == 200
    assert handed_on.json() == first.json() == again.json() == by_get.json()
    in_order = (first, by_get, handed_on, again)
    remaining = [int(a.headers["x-ratelimit-remaining"]) for a in in_order]
    steps = [a - b for a, b in zip(remaining, remaining[1:], strict=False)]
    assert steps == [1, 1, 1]  # each charged once


async def test_the_fast_path_keeps_the_execution_timeout(
    settings, sessions, jobs, events, monkeypatch
):
    """A statement that hangs on SQLAlchemy's connection is stopped at the execution timeout
    (server.core.fast_reads.EngineReads; asyncpg's own connections: tests/schema/test_fast_pool.py),
    answered by the middleware's pass and counted as a failed GraphQL request."""
    from server.core import fast_reads
    from server.core.metrics import ERRORS

    failed = ERRORS.labels("/graphql", "anonymous", "graphql")

    quick = settings.model_copy(update={"execution_timeout_seconds": 0.2})
    app = create_app(quick, sessions=sessions, jobs=jobs, events=events)
    body = {"query": "{ themes { code } }"}
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            first = await http.post("/graphql", json=body)  # kept for the fast path

            def stalled(_: Any) -> Any:  # a database that hangs
                async def rows(_: Any) -> list[Any]:
                    await asyncio.sleep(5)
                    return [("{}",)]

                return rows

            monkeypatch.setattr(fast_reads, "on_connection", stalled)
            before = failed._value.get()
            second = await http.post("/graphql", json=body)
    assert failed._value.get() - before == 1
    assert first.status_code == 200 and first.json()["data"]["themes"]
    error = second.json()["errors"][0]
    assert second.json()["data"] is None and error["extensions"]["code"] == "TIMEOUT"


async def test_the_body_is_made_of_the_bytes_the_database_sent(
    settings, sessions, jobs, events, endpoint_calls, dialect, monkeypatch
):
    """Text beyond ASCII answered by the fast path as the long way answers it; on
    PostgreSQL the fields arrive as UTF-8 bytes (bytea) and are joined as they are, not
    decoded from the driver and encoded again."""
    from schema.compiled import fast
    from server.models import Theme

    async with sessions() as session:
        session.add(Theme(code="energie", name="Énergie et environnement 環境"))
        await session.commit()
    seen: list[type] = []
    joined = fast._body

    def spied(plan: Any, texts: Any) -> bytes:
        texts = list(texts)
        seen.extend(type(text) for text in texts)
        return joined(plan, texts)

    monkeypatch.setattr(fast, "_body", spied)
    app = served(settings, sessions, jobs, events)
    query = {"query": "{ themes { code name } }"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            long_way = await http.post("/graphql", json=query)
            front = await http.post("/graphql", json=query)
    assert endpoint_calls == ["/graphql"]  # the second was answered by the fast path
    assert front.json() == long_way.json()
    names = {t["code"]: t["name"] for t in front.json()["data"]["themes"]}
    assert names["energie"] == "Énergie et environnement 環境"
    assert "Énergie et environnement 環境".encode() in front.content  # as stored, not escaped
    assert seen == [bytes if dialect == "postgres" else str]
