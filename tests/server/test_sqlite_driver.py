"""server/core/sqlite_driver.py: SQLAlchemy's aiosqlite adaption with one trip to the
connection's thread per statement, as make_engine builds every aiosqlite engine."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.db import make_engine
from server.core.sqlite_driver import OneTripConnection


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.db'}")
    async with made.begin() as connection:
        await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield made
    await made.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls queued to aiosqlite connections' threads, by function name."""
    queued: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        queued.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return queued


async def test_a_statement_is_one_trip_and_reads_back_its_rows(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection)
        await connection.execute(text("SELECT 1"))  # the transaction's BEGIN goes first
        trips.clear()
        rows = await connection.execute(text("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y'"))
        assert trips == ["run"]
        assert rows.keys() == ["a", "b"]
        assert rows.all() == [(1, "x"), (2, "y")]


async def test_writes_report_rowcount_and_lastrowid_and_many_rows_go_in_one_trip(
    engine: AsyncEngine, trips: list[str]
) -> None:
    async with engine.begin() as connection:
        done = await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert done.rowcount == 1 and done.lastrowid == 1
        trips.clear()
        many = await connection.execute(
            text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}, {"v": "d"}]
        )
        assert trips == ["run"] and many.rowcount == 3
        changed = await connection.execute(text("UPDATE t SET v = v || '!' WHERE id > 1"))
        assert changed.rowcount == 3
        returned = await connection.execute(text("INSERT INTO t (v) VALUES ('e') RETURNING id"))
        assert returned.scalar_one() == 5
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT v FROM t ORDER BY id"))).scalars().all() == [
            "a",
            "b!",
            "c!",
            "d!",
            "e",
        ]


async def test_errors_are_sqlalchemys_and_the_connection_goes_on(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
        with pytest.raises(IntegrityError):
            await connection.execute(text("INSERT INTO t (v) VALUES ('a')"))
        await connection.rollback()
        with pytest.raises(OperationalError, match="no such table"):
            await connection.execute(text("SELECT * FROM nowhere"))
        await connection.rollback()
        assert (await connection.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0


async def test_streamed_results_keep_aiosqlites_cursor(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO t (v) VALUES (:v)"), [{"v": str(i)} for i in range(250)]
        )
    async with engine.connect() as connection:
        streamed = await connection.stream(text("SELECT v FROM t ORDER BY id"))
        seen = [row.v async for row in streamed]
        assert seen == [str(i) for i in range(250)]
