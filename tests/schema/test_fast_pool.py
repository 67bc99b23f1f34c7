"""The compiled fast path's own PostgreSQL connections (server.core.fast_reads.AsyncpgReads:
asyncpg itself, autocommit, no ping, no reset, lent from server/core/fast_pool.py's stack): a
connection the server has dropped fails its statement and is dropped, and the request is
answered all the same (through the pinged session pool); the next request takes a fresh
connection on the fast path again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from server.core.db import session_factory
from server.core.fast_reads import APPLICATION_NAME, AsyncpgReads
from server.core.jobs import InProcessJobs
from server.http.app import create_app

QUERY = {"query": "{ projects(first: 2) { totalCount edges { node { id title } } } }"}


@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
async def test_connections_the_server_dropped_cost_no_answer(engine: Any, settings: Any) -> None:
    sessions = session_factory(engine)
    app = create_app(settings, sessions=sessions, jobs=InProcessJobs({}, autostart=False))
    graphql = next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/graphql")
    assert isinstance(graphql.fast.reads, AsyncpgReads)
    pids: list[int] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            first = await http.post("/graphql", json=QUERY)
            again = await http.post("/graphql", json=QUERY)  # the document seen: fast path
            assert first.status_code == again.status_code == 200 and first.json() == again.json()
            async with engine.connect() as admin:
                pids = await fast_pids(admin)
                assert pids, "the fast path took no connection of its own"
                for pid in pids:  # the server drops the pool's connections
                    await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            after = await http.post("/graphql", json=QUERY)
            assert after.status_code == 200 and after.json() == first.json(), after.text
            later = await http.post("/graphql", json=QUERY)
            assert later.status_code == 200 and later.json() == first.json()
            async with engine.connect() as admin:
                fresh = set(await fast_pids(admin)) - set(pids)
            assert fresh, "no fresh connection after the dropped one"


async def fast_pids(connection: Any) -> list[int]:
    """The backend pids of the fast path's connections to this database."""
    rows = await connection.execute(
        text(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = :name AND datname = current_database()"
        ),
        {"name": APPLICATION_NAME},
    )
    return [int(pid) for (pid,) in rows]


@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
async def test_a_statement_past_the_execution_timeout_is_stopped(
    engine: Any, settings: Any
) -> None:
    """On the fast path's own connections the execution timeout stops the statement itself:
    a table locked by another transaction holds the fast path's SELECT, which is cancelled
    at the limit and answered with TIMEOUT. The connection it ran on is not lent again (it
    may still be cancelling): once the lock is gone the same request answers on a new one."""
    quick = settings.model_copy(update={"execution_timeout_seconds": 0.5})
    app = create_app(
        quick, sessions=session_factory(engine), jobs=InProcessJobs({}, autostart=False)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            first = await http.post("/graphql", json=QUERY)
            assert first.status_code == 200 and "errors" not in first.json()
            assert (await http.post("/graphql", json=QUERY)).json() == first.json()  # fast
            async with engine.connect() as admin:
                before = set(await fast_pids(admin))
            assert len(before) == 1  # one request at a time: one connection
            async with engine.connect() as locker:
                await locker.execute(text("LOCK TABLE projects IN ACCESS EXCLUSIVE MODE"))
                held = await http.post("/graphql", json=QUERY)
                await locker.rollback()
            again = await http.post("/graphql", json=QUERY)
            async with engine.connect() as admin:
                after = set(await fast_pids(admin))
    assert after - before, "the timed-out connection was lent again"
    error = held.json()["errors"][0]
    assert held.json()["data"] is None and error["extensions"]["code"] == "TIMEOUT", held.text
    assert again.status_code == 200 and again.json() == first.json()
