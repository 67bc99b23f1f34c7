"""SQLite's writers of one process wait their turn in order (server/core/sqlite_gate.py):
a transaction begun IMMEDIATE on a SQLite file takes its engine's gate at BEGIN and gives it
back when it ends, however it ends; past the gate's bound it gets SQLite's own "database is
locked". The busy timeout is made small here (100 ms), so that without the gate the
writers below, which hold the lock 0.6 s in all, are refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.core.db import begin_write, make_engine, session_factory, writer_sessions
from server.core.sqlite_gate import WriteGate, gate_of

BUSY_TIMEOUT_MS = 100
HOLD = 0.1  # seconds each writer keeps the lock
WRITERS = 6


def small_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # after make_engine's


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'gate.db'}")
    event.listen(engine.sync_engine, "connect", small_busy_timeout)
    async with engine.begin() as connection:
        await connection.exec_driver_sql("CREATE TABLE notes (body TEXT)")
    yield engine
    await engine.dispose()


@pytest.fixture
def gate(engine: AsyncEngine) -> WriteGate:
    found = gate_of(engine.sync_engine)
    assert found is not None
    found.wait = 1.0  # a gate left taken fails the next writer in a second, not 20
    return found


@pytest.fixture
def writers(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return writer_sessions(session_factory(engine))


async def notes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list((await connection.execute(text("SELECT body FROM notes"))).scalars())


async def write_alone(writers: async_sessionmaker[AsyncSession]) -> None:
    """A writer that must get its turn at once (the gate was given back)."""
    async with writers() as session:
        await session.execute(text("INSERT INTO notes VALUES ('next')"))
        await session.commit()


async def test_writers_take_turns_in_the_order_they_asked(engine, gate, writers):
    asked: list[int] = []
    done: list[int] = []

    def asking(conn: Any) -> None:  # before the gate's own begin listener
        asked.append(conn.get_execution_options()["satreps_writer"])

    event.listen(engine.sync_engine, "begin", asking, insert=True)

    async def writer(n: int) -> None:
        async with writers() as session:
            await session.connection(execution_options={"satreps_writer": n})
            await asyncio.sleep(HOLD)  # the write lock held meanwhile
            await session.execute(text("INSERT INTO notes VALUES (:n)"), {"n": str(n)})
            await session.commit()
        done.append(n)

    try:
        await asyncio.gather(*(writer(n) for n in range(WRITERS)))  # none refused
    finally:
        event.remove(engine.sync_engine, "begin", asking)
    assert sorted(asked) == list(range(WRITERS))
    assert done == asked  # first come, first served
    assert sorted(await notes(engine)) == [str(n) for n in range(WRITERS)]
    assert not gate.locked()


async def test_the_gate_is_given_back_after_a_commit_and_a_rollback(engine, gate, writers):
    async with writers() as session:
        await session.execute(text("INSERT INTO notes VALUES ('kept')"))
        assert gate.locked()
        await session.commit()
        assert not gate.locked()
        await session.execute(text("INSERT INTO notes VALUES ('rolled back')"))
        assert gate.locked()
        await session.rollback()
        assert not gate.locked()
    await write_alone(writers)
    assert sorted(await notes(engine)) == ["kept", "next"]


async def test_the_gate_is_given_back_after_an_error_in_the_transaction(engine, gate, writers):
    with pytest.raises(RuntimeError, match="the work failed"):
        async with writers() as session, session.begin():
            await session.execute(text("INSERT INTO notes VALUES ('lost')"))
            assert gate.locked()
            raise RuntimeError("the work failed")
    assert not gate.locked()
    await write_alone(writers)
    assert await notes(engine) == ["next"]


async def test_the_gate_is_given_back_when_a_session_closes_without_committing(
    engine, gate, writers
):
    session = writers()
    await session.execute(text("INSERT INTO notes VALUES ('never committed')"))
    assert gate.locked()
    await session.close()
    assert not gate.locked()
    await write_alone(writers)
    assert await notes(engine) == ["next"]


async def test_the_gate_is_given_back_when_the_connection_is_invalidated(engine, gate, writers):
    async with writers() as session:
        connection = await session.connection()
        assert gate.locked()
        await connection.invalidate()
        assert not gate.locked()
    await write_alone(writers)
    assert await notes(engine) == ["next"]


async def test_begin_write_takes_the_gate_and_a_plain_session_does_not(engine, gate):
    async with session_factory(engine)() as session:
        await session.execute(text("SELECT count(*) FROM notes"))
        assert not gate.locked()  # a reader
        await begin_write(session)
        assert gate.locked()
        await session.commit()
    assert not gate.locked()


async def test_a_second_writer_in_the_holding_task_fails_after_the_bound(engine, gate, writers):
    """It could never get its turn (its own task holds the gate): SQLite's error once the
    bound has passed, not a hang; the first writer then goes on."""
    gate.wait = 0.3
    async with writers() as first:
        await first.execute(text("INSERT INTO notes VALUES ('first')"))
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked") as refused:
            async with writers() as second:
                await second.execute(text("INSERT INTO notes VALUES ('second')"))
        waited = time.monotonic() - started
        assert 0.3 <= waited < 2.0
        assert "BEGIN IMMEDIATE" in str(refused.value)
        await first.commit()
    assert not gate.locked()
    await write_alone(writers)
    assert sorted(await notes(engine)) == ["first", "next"]


async def test_a_writer_of_another_process_is_still_waited_for_with_the_busy_timeout(
    engine, gate, writers, tmp_path
):
    """The gate queues this process's writers only; another connection to the file (here a
    raw sqlite3 one, as a `satreps` command would hold) meets SQLite's busy timeout."""
    import sqlite3

    other = sqlite3.connect(tmp_path / "gate.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"):
            await write_alone(writers)
        assert not gate.locked()  # the failed BEGIN gave its turn back
        other.execute("ROLLBACK")
        await write_alone(writers)
    finally:
        other.close()
    assert await notes(engine) == ["next"]


async def test_no_gate_on_a_memory_database() -> None:
    engine = make_engine("sqlite+aiosqlite://")
    try:
        assert gate_of(engine.sync_engine) is None
        async with writer_sessions(session_factory(engine))() as session:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
            await session.commit()
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_no_gate_on_postgresql(postgres_url: str) -> None:
    """Two writers at once, neither waiting for the other."""
    engine = make_engine(postgres_url)
    try:
        assert gate_of(engine.sync_engine) is None
        writers = writer_sessions(session_factory(engine))
        assert writers.kw["bind"] is engine
        async with writers() as first, writers() as second:
            await begin_write(first)
            await first.execute(text("SELECT 1"))
            async with asyncio.timeout(5):
                await begin_write(second)
                await second.execute(text("SELECT 1"))
            assert first.in_transaction() and second.in_transaction()
    finally:
        await engine.dispose()


async def test_a_writer_cancelled_while_waiting_takes_no_turn(engine, gate, writers):
    """A mutation's execution timeout may cancel it in the queue: the writers behind it
    still get their turns."""
    async with writers() as first:
        await first.execute(text("INSERT INTO notes VALUES ('first')"))
        waiting = asyncio.ensure_future(write_alone(writers))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await first.commit()
    assert not gate.locked()
    await write_alone(writers)
    assert sorted(await notes(engine)) == ["first", "next"]
