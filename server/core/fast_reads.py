"""Where the compiled fast path runs its statements: one row of one statement at a time.

On PostgreSQL the statements go straight to asyncpg, on connections of its own (issue 26: a
small query's request spent more in SQLAlchemy's async adaption and pool than in the
statement, and then in asyncpg's pool than in anything else but the statement): in
autocommit (asyncpg's default outside a transaction), each statement prepared once per
connection and kept there (asyncpg's statement cache; none behind PgBouncer's transaction
pooling), no ping at checkout and no reset at release (the fast path's statements are single
SELECTs: they leave no session state behind), lent from a plain stack
(server/core/fast_pool.py). A connection the server dropped fails its statement and is
dropped; the caller answers that request through the pinged session pool, and the next
request opens a fresh connection.

The statements are compiled by SQLAlchemy's asyncpg dialect ($n parameters) with its bind
processors applied (schema/compiled/fast.py), so the driver gets what SQLAlchemy would give
it; they return the JSON's UTF-8 bytes on PostgreSQL (cast to text, then `convert_to`:
schema/compiled/fast.py), its text on SQLite, and the token's columns, which the plan's
converters read as SQLAlchemy's result processors do.

Elsewhere (SQLite, or sessions bound to one connection: the tests' transaction) they run
through SQLAlchemy as before: `EngineReads`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from server.core.fast_pool import ConnectionStack

# the name the fast path's connections show in pg_stat_activity
APPLICATION_NAME = "satreps-fast-reads"
Statements = Sequence[tuple[str, Sequence[Any]]]  # (sql, parameters) each
Row = Sequence[Any] | None  # a statement's first row, or None


class FastReads:
    """`await reads.rows(statements, seconds)`: each statement's first row, in order, on
    one connection, all within `seconds` (TimeoutError past them)."""

    dialect_name: str

    async def rows(self, statements: Statements, limit: float) -> list[Row]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


def asyncpg_dsn(url: str | URL) -> str:
    """A SQLAlchemy URL as the libpq-style DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncpgReads(FastReads):
    """The statements on asyncpg itself, on connections of its own (server/core/fast_pool.py,
    opened at first use)."""

    dialect_name = "postgresql"

    def __init__(self, url: str | URL, *, pool_size: int, pgbouncer: bool) -> None:
        self.dsn = asyncpg_dsn(url)
        self.pool_size = pool_size
        self.pgbouncer = pgbouncer
        self._pool: ConnectionStack | None = None

    def _stack(self) -> ConnectionStack:
        import asyncpg

        async def connect() -> Any:
            return await asyncpg.connect(
                self.dsn,
                # behind PgBouncer a prepared statement lives on one server connection
                statement_cache_size=0 if self.pgbouncer else 256,
                server_settings={"application_name": APPLICATION_NAME},
            )

        self._pool = ConnectionStack(connect, self.pool_size)
        return self._pool

    async def rows(self, statements: Statements, limit: float) -> list[Row]:
        pool = self._pool or self._stack()
        connection = await pool.acquire()
        ended = False  # the statements ended normally: the connection can be lent again
        try:
            if len(statements) == 1:  # the usual: one field, or the fused statement
                sql, params = statements[0]
                got = [await connection.fetchrow(sql, *params, timeout=limit)]
            else:
                deadline = time.monotonic() + limit
                got = []
                for sql, params in statements:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    got.append(await connection.fetchrow(sql, *params, timeout=left))
            ended = True
            return got
        finally:
            pool.release(connection, reusable=ended)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


class EngineReads(FastReads):
    """The statements through SQLAlchemy: the engine's connections (SQLite), or, for
    sessions bound to one connection (the tests' transaction), that one through a session."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        bind = sessions.kw["bind"]
        self.engine = bind if isinstance(bind, AsyncEngine) else None
        self.sessions = sessions
        self.dialect_name = bind.dialect.name

    async def rows(self, statements: Statements, limit: float) -> list[Row]:
        async with asyncio.timeout(limit):
            if self.engine is not None:
                async with self.engine.connect() as connection:
                    return await on_connection(connection)(statements)
            async with self.sessions() as session:
                return await on_connection(await session.connection())(statements)


def on_connection(connection: AsyncConnection) -> Callable[[Statements], Awaitable[list[Row]]]:
    """The statements on a SQLAlchemy connection (a session's: the fast path inside a
    request that opened one)."""

    async def rows(statements: Statements) -> list[Row]:
        got: list[Row] = []
        for sql, params in statements:
            got.append((await connection.exec_driver_sql(sql, tuple(params))).first())
        return got

    return rows


def fast_reads(
    sessions: async_sessionmaker[AsyncSession], *, pool_size: int, pgbouncer: bool
) -> FastReads:
    """The fast path's reads for these sessions: asyncpg's own connections on PostgreSQL (an
    engine), else through SQLAlchemy."""
    bind = sessions.kw["bind"]
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return AsyncpgReads(bind.url, pool_size=pool_size, pgbouncer=pgbouncer)
    return EngineReads(sessions)
