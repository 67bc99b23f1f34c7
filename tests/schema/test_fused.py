"""The fused fast path: a document seen before, from an API token seen before, is answered
by one statement that reads the token and the data together (schema/compiled/fast.py). The
token's row read in it must still give the principal the token was last seen as; anything
else (revoked, expired, a changed account, a last-used time due) is authenticated as ever."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select, update

from server.access.auth import hash_token
from server.core.db import utcnow
from server.core.metrics import ROOT_FIELDS
from server.models import Account, ApiToken
from server.models.enums import AccountRole
from tests.factories import gid
from tests.fixtures.access_world import build_world
from tests.twin import TWIN

PROJECT = "query($id: ID!) { node(id: $id) { __typename id ... on Project { title phase } } }"


@contextmanager
def every_statement(engine: Any) -> Iterator[list[str]]:
    """The SQL statements run while the block runs, transaction control aside."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        first = statement.split(None, 1)[0].upper()
        if first not in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT") and not (
            TWIN.sending
        ):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def fast_fields() -> float:
    return ROOT_FIELDS.labels("fast")._value.get()


async def _token_row(sessions: Any, token: str) -> tuple[Any, ApiToken]:
    session = sessions()
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    return session, row


async def _proposal(gql: Any, sessions: Any) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The admin's token, the variables naming the proposal (only staff and its people see
    it), and the admin's first answer (which authenticates and keeps the plan)."""
    world = await build_world(sessions)
    token = world.tokens["admin"]
    assert token is not None
    variables = {"id": gid("Project", world.samples["proposal"].project)}
    first = await gql.as_(token)(PROJECT, variables)
    assert first["node"]["phase"] == "IDENTIFICATION"  # a proposal
    return token, variables, first


async def test_a_known_token_and_document_take_one_statement(gql, engine, sessions):
    token, variables, first = await _proposal(gql, sessions)
    before = fast_fields()
    with every_statement(engine) as seen:
        again = await gql.as_(token)(PROJECT, variables)
    assert again == first
    assert len(seen) == 1 and "api_tokens" in seen[0], seen  # the token and the data at once
    assert fast_fields() - before == 1


async def test_a_researchers_token_takes_one_statement_too(gql, engine, sessions):
    world = await build_world(sessions)
    researcher = gql.as_(world.tokens["researcher_outsider"])
    variables = {"id": gid("Project", world.samples["public"].project)}
    first = await researcher(PROJECT, variables)
    with every_statement(engine) as seen:
        assert await researcher(PROJECT, variables) == first
    assert first["node"]["phase"] == "IMPLEMENTATION"
    assert len(seen) == 1 and "api_tokens" in seen[0], seen


async def test_a_token_revoked_after_it_was_seen_reads_nothing(gql, sessions):
    token, variables, _ = await _proposal(gql, sessions)
    session, row = await _token_row(sessions, token)
    async with session:
        row.revoked_at = utcnow()
        await session.commit()
    response = await gql.post(PROJECT, variables, token=token)
    assert response.status_code == 401 and response.json()["data"] is None
    assert response.json()["errors"][0]["message"] == "token revoked"


async def test_a_token_expired_after_it_was_seen_reads_nothing(gql, sessions):
    token, variables, _ = await _proposal(gql, sessions)
    session, row = await _token_row(sessions, token)
    async with session:
        row.expires_at = utcnow() - dt.timedelta(seconds=1)
        await session.commit()
    response = await gql.post(PROJECT, variables, token=token)
    assert response.status_code == 401 and response.json()["data"] is None
    assert response.json()["errors"][0]["message"] == "token expired"


async def test_an_account_changed_after_its_token_was_seen_reads_as_it_is_now(
    gql, engine, sessions
):
    token, variables, _ = await _proposal(gql, sessions)
    session, row = await _token_row(sessions, token)
    async with session:
        account = await session.get(Account, row.account_id)
        assert account is not None
        account.role = AccountRole.RESEARCHER  # no longer staff: the proposal is hidden
        await session.commit()
    with every_statement(engine) as seen:
        assert await gql.as_(token)(PROJECT, variables) == {"node": None}
    assert len(seen) > 1  # the fused answer was dropped: authenticated, then answered
    assert await gql.as_(token)(PROJECT, variables) == {"node": None}  # and so it stays


async def test_a_last_used_time_due_is_written(gql, sessions):
    token, variables, first = await _proposal(gql, sessions)
    long_ago = utcnow() - dt.timedelta(minutes=5)
    session, row = await _token_row(sessions, token)
    async with session:
        row.last_used_at = long_ago
        await session.commit()
    assert await gql.as_(token)(PROJECT, variables) == first
    session, row = await _token_row(sessions, token)
    async with session:
        assert row.last_used_at > long_ago


async def test_an_unknown_token_is_refused_as_ever(gql, sessions):
    token, variables, _ = await _proposal(gql, sessions)
    response = await gql.post(PROJECT, variables, token=token[:-2] + "xx")
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "invalid token"


def test_a_plan_that_cannot_be_fused_is_kept_unfused(caplog):
    """Two fields each with a CTE of one name cannot share a statement: the plan is kept
    without its fused form (the response it came from was answered already)."""
    from sqlalchemy import literal
    from sqlalchemy.dialects import postgresql

    from schema.compiled.fast import FastKey, FastPlans

    def field() -> Any:
        named = select(literal(1).label("n")).cte("same_name")
        return select(named.c.n)

    plans = FastPlans()
    key = FastKey(b"digest", None, "{}", (), True, dt.date(2026, 1, 1))
    plans.record(key, [("a", field()), ("b", field())], 1, postgresql.dialect())
    plan = plans.lookup(key)
    assert plan is not None and len(plan.fields) == 2 and plan.fused is None
    assert "could not be kept" in caplog.text


async def test_a_request_handed_on_is_charged_once(
    settings, sessions, jobs, events, make_token, monkeypatch
):
    """The fast path charges the budget before its statement runs; when it hands the request
    on (the fused answer dropped, a database error), the same points are not taken again."""
    import httpx

    from schema.compiled import fast
    from server.http.app import create_app

    limited = settings.model_copy(update={"rate_limit_points": 10})
    app = create_app(limited, sessions=sessions, jobs=jobs, events=events)
    headers = {"Authorization": f"Bearer {await make_token(AccountRole.RESEARCHER)}"}
    body = {"query": "{ themes { code } }"}
    transport = httpx.ASGITransport(app=app)

    async def dropped(*_: Any) -> None:
        return None  # as if the token were no longer what it was

    async def failing(*_: Any) -> str:
        raise RuntimeError("the database went away")

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answers = [await http.post("/graphql", json=body, headers=headers)]
            monkeypatch.setattr(fast, "answer_fused", dropped)  # then fast.answer answers
            answers.append(await http.post("/graphql", json=body, headers=headers))
            monkeypatch.setattr(fast, "answer", failing)  # then strawberry answers
            answers.append(await http.post("/graphql", json=body, headers=headers))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[2].json() == answers[1].json() == answers[0].json()
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["9", "8", "7"]


async def test_on_an_engine_the_fused_statement_takes_a_connection_of_its_own(
    engine, settings, monkeypatch
):
    """The app as served (sessions bound to an engine, not to the tests' transaction): the
    fused statement runs on a connection taken for it alone, no session opened; on
    PostgreSQL straight on asyncpg from the fast path's own pool (server.core.fast_reads:
    outside any transaction, no ping, no reset), on SQLite from the engine's pool without a
    pre-ping; a token revoked since (committed) reads nothing. Its rows are committed, then
    deleted."""
    import uuid

    import httpx
    from sqlalchemy import delete

    from server.access.auth import ensure_account, issue_token
    from server.core.db import session_factory
    from server.core.fast_reads import AsyncpgReads, EngineReads
    from server.core.jobs import InProcessJobs
    from server.http.app import create_app

    sessions = session_factory(engine)
    async with sessions() as session:
        account = await ensure_account(session, f"fused-{uuid.uuid4().hex[:8]}", AccountRole.ADMIN)
        _, token = await issue_token(session, account, ttl=dt.timedelta(hours=1))
        await session.commit()
    jobs = InProcessJobs({}, autostart=False)
    app = create_app(settings, sessions=sessions, jobs=jobs)
    graphql = next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/graphql")
    reads = graphql.fast.reads  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    assert isinstance(reads, AsyncpgReads if postgres else EngineReads)
    headers = {"Authorization": f"Bearer {token}"}
    body = {"query": "{ projects(first: 1) { totalCount edges { node { id } } } }"}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
                first = await http.post("/graphql", json=body, headers=headers)
                with (
                    fast_statements(reads, monkeypatch) as seen,
                    every_statement(engine) as others,
                ):
                    again = await http.post("/graphql", json=body, headers=headers)
                assert again.status_code == 200 and again.json() == first.json()
                assert "errors" not in again.json()
                # one statement on one connection, outside a transaction on PostgreSQL,
                # nothing else: no ping, no reset, nothing on the session pool
                assert [(s.count("api_tokens") > 0, t) for s, t in seen] == [(True, False)], seen
                assert not postgres or not others, others
                async with sessions() as session:
                    revoke = update(ApiToken).where(ApiToken.account_id == account.id)
                    await session.execute(revoke.values(revoked_at=utcnow()))
                    await session.commit()
                revoked = await http.post("/graphql", json=body, headers=headers)
                assert revoked.status_code == 401, revoked.text
    finally:
        await jobs.close()
        async with sessions() as session:
            await session.execute(delete(ApiToken).where(ApiToken.account_id == account.id))
            await session.execute(delete(Account).where(Account.id == account.id))
            await session.commit()


@contextmanager
def fast_statements(reads: Any, monkeypatch: Any) -> Iterator[list[tuple[str, bool]]]:
    """(statement, inside a transaction) of everything the fast path's connections run while
    the block runs: asyncpg's every query method spied on PostgreSQL; on SQLite the
    engine's statements (its own BEGIN aside), with the pool's checkouts and pings."""
    seen: list[tuple[str, bool]] = []
    if reads.dialect_name == "postgresql":
        import asyncpg

        with monkeypatch.context() as patch:
            for name in ("execute", "fetch", "fetchrow", "fetchval", "executemany", "prepare"):
                method = getattr(asyncpg.Connection, name)

                def spy(self: Any, query: str, *args: Any, _method: Any = method, **kw: Any) -> Any:
                    seen.append((query, self.is_in_transaction()))
                    return _method(self, query, *args, **kw)

                patch.setattr(asyncpg.Connection, name, spy)
            yield seen
        return
    sync = reads.engine.sync_engine
    ping = reads.engine.dialect.do_ping  # what a pre-ping would call at a checkout

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement != "BEGIN":  # SQLite's own (server.core.db._sqlite_begin)
            seen.append((statement, False))

    def pinged(connection: Any) -> bool:
        seen.append(("ping", False))
        return bool(ping(connection))

    def checkout(*_: Any) -> None:
        seen.append(("checkout", False))

    event.listen(sync, "before_cursor_execute", record)
    event.listen(sync, "checkout", checkout)
    with monkeypatch.context() as patch:
        patch.setattr(reads.engine.dialect, "do_ping", pinged)
        try:
            yield seen
        finally:
            event.remove(sync, "before_cursor_execute", record)
            event.remove(sync, "checkout", checkout)
    checkouts = [s for s in seen if s[0] == "checkout"]
    assert len(checkouts) == 1, seen  # one connection for the one statement
    seen[:] = [s for s in seen if s[0] != "checkout"]
