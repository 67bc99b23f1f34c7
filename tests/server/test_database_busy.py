"""SQLite's write lock waited out is a transient refusal with a stable code: a mutation that
meets it is answered 503 DATABASE_BUSY with Retry-After (before: a 200 with the masked
"Unexpected error."), nothing written, and the same call succeeds once the writer is done.
Two ways to meet it: another process holding the lock past the busy timeout, and this
process's writers holding the write gate past its bound (server/core/sqlite_gate.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.access.auth import ensure_account, issue_token
from server.core.config import Settings
from server.core.db import (
    database_busy,
    database_unavailable,
    make_engine,
    session_factory,
    writer_sessions,
)
from server.core.events import MemoryBus
from server.core.jobs import InProcessJobs
from server.core.sqlite_gate import gate_of, locked_error
from server.migrations import upgrade
from server.models import Institution
from server.models.enums import AccountRole
from tests.fixtures.clients import app_client

CREATE = """mutation($name: String!) { createInstitution(input: {nameEn: $name, country: "JP",
    kind: UNIVERSITY}) { institution { id } errors { code } } }"""


def small_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA busy_timeout=100")


class Api:
    def __init__(self, path: Path, engine: AsyncEngine, http: httpx.AsyncClient, token: str):
        self.path, self.engine, self.http = path, engine, http
        self.headers = {"Authorization": f"Bearer {token}"}

    async def create(self, name: str) -> httpx.Response:
        body = {"query": CREATE, "variables": {"name": name}}
        return await self.http.post("/graphql", json=body, headers=self.headers)

    async def institutions(self) -> int:
        async with session_factory(self.engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(Institution)) or 0)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    path = tmp_path / "busy.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    event.listen(engine.sync_engine, "connect", small_busy_timeout)
    sessions = session_factory(engine)
    async with sessions() as session:
        account = await ensure_account(session, "busy-admin", AccountRole.ADMIN)
        _, token = await issue_token(session, account, ttl=dt.timedelta(hours=1))
        await session.commit()
    settings = Settings(database_url=url, object_dir=tmp_path / "objects")
    jobs = InProcessJobs({}, autostart=False)
    try:
        async with app_client(settings, sessions, jobs, MemoryBus()) as http:
            yield Api(path, engine, http, token)
    finally:
        await engine.dispose()


def refused_as_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "DATABASE_BUSY"
    assert error["message"] != "Unexpected error."
    assert response.headers["Retry-After"] == "1"


async def test_a_mutation_meeting_another_process_writer_is_answered_database_busy(api):
    other = sqlite3.connect(api.path, isolation_level=None)  # as a `satreps` command would
    try:
        other.execute("BEGIN IMMEDIATE")
        refused_as_busy(await api.create("Kyoto University"))
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert await api.institutions() == 0  # nothing half-written
    done = await api.create("Kyoto University")
    assert done.status_code == 200 and done.json()["data"]["createInstitution"]["institution"]
    assert await api.institutions() == 1


async def test_a_mutation_that_waits_out_its_turn_is_answered_database_busy(api):
    gate = gate_of(api.engine.sync_engine)
    assert gate is not None
    gate.wait = 0.3
    async with writer_sessions(session_factory(api.engine))() as writer:
        await writer.execute(text("SELECT 1"))  # this process's writer, holding the gate
        assert gate.locked()
        refused_as_busy(await api.create("Kyoto University"))
        await writer.commit()
    assert await api.institutions() == 0
    assert (await api.create("Kyoto University")).status_code == 200
    assert await api.institutions() == 1


def test_a_locked_database_is_busy_and_transient() -> None:
    locked = locked_error("BEGIN IMMEDIATE")
    assert database_busy(locked) and database_unavailable(locked)
    try:
        try:
            raise locked
        except OperationalError as error:
            raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        assert database_busy(wrapped) and database_unavailable(wrapped)  # along the chain
    assert database_busy(sqlite3.OperationalError("database is busy"))
    assert not database_busy(sqlite3.OperationalError("no such table: notes"))
    assert not database_unavailable(sqlite3.OperationalError("no such table: notes"))
    assert not database_busy(ConnectionRefusedError())
