"""SQLite (WAL) and its one writer: a transaction begun as a reader that then writes while
another connection holds the write lock is refused at once ("database is locked", whatever
the busy timeout). Units of work that write take the lock at BEGIN and wait for it
(server/core/db.py begin_write, writer_sessions); a token's last-used note, written in the
request's reading transaction, is skipped rather than failing the request."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.access.auth import authenticate, ensure_account, issue_token
from server.core.db import begin_write, make_engine, session_factory, writer_sessions
from server.migrations import upgrade
from server.models import ApiToken
from server.models.enums import AccountRole


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'writes.db'}"
    upgrade(url)
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")
    yield engine
    await engine.dispose()


async def hold_write_lock(engine: AsyncEngine) -> AsyncConnection:
    """Another connection in the middle of a write (the lock held until it commits)."""
    connection = await engine.connect()
    await connection.exec_driver_sql("INSERT INTO notes VALUES ('the other writer')")
    return connection


async def notes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT body FROM notes"))).scalars())


async def test_a_reader_that_writes_is_refused_while_another_writes(engine):
    """The failure begin_write exists for: a plain BEGIN, a read, then a write."""
    other = await hold_write_lock(engine)
    async with session_factory(engine)() as session:
        await session.execute(text("SELECT count(*) FROM notes"))
        with pytest.raises(OperationalError, match="database is locked"):
            await session.execute(text("INSERT INTO notes VALUES ('refused')"))
    await other.commit()
    await other.close()
    assert await notes(engine) == ["the other writer"]


async def test_begin_write_waits_for_the_lock_and_keeps_what_was_read(engine):
    other = await hold_write_lock(engine)
    async with session_factory(engine)() as session:
        seen = (await session.execute(text("SELECT count(*) FROM notes"))).scalar()
        begun = asyncio.ensure_future(begin_write(session))
        await asyncio.sleep(0.2)
        assert not begun.done()  # waiting for the other writer, not refused
        await other.commit()
        await other.close()
        await begun
        await session.execute(text("INSERT INTO notes VALUES ('after the wait')"))
        await session.commit()
    assert seen == 0
    assert sorted(await notes(engine)) == ["after the wait", "the other writer"]


async def test_writer_sessions_begin_immediate(engine):
    begins: list[str] = []

    def record(_conn, _cursor, statement, *_):
        if statement.startswith("BEGIN"):
            begins.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with writer_sessions(session_factory(engine))() as session:
            await session.execute(text("SELECT 1"))
            await session.commit()
        async with session_factory(engine)() as session:
            await session.execute(text("SELECT 1"))
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert begins == ["BEGIN IMMEDIATE", "BEGIN"]


async def test_a_tokens_last_use_waits_for_a_quiet_database(engine):
    """authenticate in a reading transaction while another connection writes: the principal
    comes back, the last-used note is left for a later request, which writes it."""
    sessions = session_factory(engine)
    async with sessions() as session:
        account = await ensure_account(session, "reader", AccountRole.RESEARCHER)
        _, token = await issue_token(session, account, ttl=dt.timedelta(days=1))
        await session.commit()
    other = await hold_write_lock(engine)
    async with sessions() as session:
        principal = await authenticate(session, token)
        await session.commit()
    await other.commit()
    await other.close()
    assert principal.account_id == account.id
    async with sessions() as session:
        assert await session.scalar(select(ApiToken.last_used_at)) is None
        await authenticate(session, token)
        await session.commit()
    async with sessions() as session:
        assert await session.scalar(select(ApiToken.last_used_at)) is not None
