"""The compiled fast path's own PostgreSQL pool (server.core.db.read_engine: autocommit, no
pre-ping): a connection the server has dropped fails its statement, SQLAlchemy invalidates
it, and the request is answered all the same (through the pinged session pool); the next
request takes a fresh connection on the fast path again."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from server.core.db import session_factory
from server.core.jobs import InProcessJobs
from server.http.app import create_app

QUERY = {"query": "{ projects(first: 2) { totalCount edges { node { id title } } } }"}


@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
async def test_connections_the_server_dropped_cost_no_answer(engine: Any, settings: Any) -> None:
    sessions = session_factory(engine)
    app = create_app(settings, sessions=sessions, jobs=InProcessJobs({}, autostart=False))
    graphql = next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/graphql")
    reads = graphql.engine
    assert reads is not engine and reads.pool._pre_ping is False
    pids: list[int] = []
    event.listen(reads.sync_engine, "connect", lambda dbapi, _: pids.append(dbapi_pid(dbapi)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            first = await http.post("/graphql", json=QUERY)
            again = await http.post("/graphql", json=QUERY)  # the document seen: fast path
            assert first.status_code == again.status_code == 200 and first.json() == again.json()
            assert pids, "the fast path took no connection of its own"
            async with engine.connect() as admin:  # the server drops the pool's connections
                for pid in pids:
                    await admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            dropped = len(pids)
            after = await http.post("/graphql", json=QUERY)
            assert after.status_code == 200 and after.json() == first.json(), after.text
            later = await http.post("/graphql", json=QUERY)
            assert later.status_code == 200 and later.json() == first.json()
            assert len(pids) > dropped, "no fresh connection after the dropped one"


def dbapi_pid(dbapi: Any) -> int:
    """The backend pid of an asyncpg connection under SQLAlchemy's adapter."""
    return int(dbapi._connection.get_server_pid())
