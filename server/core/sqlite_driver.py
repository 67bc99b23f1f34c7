"""SQLAlchemy's aiosqlite adaption with one trip to the connection's thread per statement.

aiosqlite runs every call of a connection in a thread of its own, and SQLAlchemy's adaption
makes four calls a statement: create a cursor, execute, fetch the rows, close the cursor.
Each is a hand-off to that thread and back to the event loop; under load on two cores the
hand-offs, not SQLite, were most of the embedded server's database time (a primary-key
read through a session cost 3 ms of CPU: bench/upload_folder.py, profiled with perf and
py-spy). Here a statement is one call that creates a sqlite3 cursor, executes, fetches
every row and closes the cursor in the thread; the rows wait in memory, as SQLAlchemy's
adaption already buffers them (`_rows`). Server-side cursors (streamed results) keep
aiosqlite's own cursor.

It is handed to `create_async_engine(module=...)`, SQLAlchemy's documented way to give a
dialect another DBAPI module; the URL stays `sqlite+aiosqlite://`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

Description = tuple[tuple[Any, ...], ...] | None


class OneTripCursor:
    """What SQLAlchemy's adaption calls of an aiosqlite cursor, each statement one trip."""

    arraysize = 1

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._pending: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self  # the sqlite3 cursor is made in the statement's own trip

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> OneTripCursor:
        raw: sqlite3.Connection = self._connection._conn

        def run() -> tuple[Description, int, int | None, list[Any]]:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, () if parameters is None else parameters)
                rows = cursor.fetchall() if cursor.description else []
                return cursor.description, cursor.rowcount, cursor.lastrowid, rows
            finally:
                cursor.close()

        found = await self._connection._execute(run)  # type: ignore[no-untyped-call]
        self.description, self.rowcount, self.lastrowid, self._pending = found
        return self

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> OneTripCursor:
        raw: sqlite3.Connection = self._connection._conn

        def run() -> tuple[int, int | None]:
            cursor = raw.cursor()
            try:
                cursor.executemany(sql, parameters)
                return cursor.rowcount, cursor.lastrowid
            finally:
                cursor.close()

        self.description, self._pending = None, []
        self.rowcount, self.lastrowid = await self._connection._execute(run)  # type: ignore[no-untyped-call]
        return self

    async def fetchall(self) -> list[Any]:
        rows, self._pending = self._pending, []
        return rows

    async def fetchone(self) -> Any:
        return self._pending.pop(0) if self._pending else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._pending = self._pending[:count], self._pending[count:]
        return rows

    async def close(self) -> None:
        self._pending = []


class OneTripAdaptCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def _make_new_cursor(self, connection: Any) -> Any:
        return OneTripCursor(connection)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneTripAdaptCursor


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def one_trip_dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
