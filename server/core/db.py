"""Async engine and session factory for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, event, insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

from server.core.config import Settings
from server.core.sqlite_driver import one_trip_dbapi
from server.core.sqlite_gate import WriteGate, database_locked, install

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(dt.UTC) if value is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def group_rows(rows: Iterable[Sequence[Any]]) -> dict[Any, list[Any]]:
    """Group result rows by their first column: (key, value) or (key, *values)."""
    grouped: dict[Any, list[Any]] = defaultdict(list)
    for key, *values in rows:
        grouped[key].append(values[0] if len(values) == 1 else tuple(values))
    return grouped


M = TypeVar("M", bound="Base")


async def insert_returning(
    session: AsyncSession, objects: Sequence[M], *unique: InstrumentedAttribute[Any]
) -> list[M]:
    """New objects of one class inserted as one statement (batches of ORM bulk INSERT ...
    RETURNING), the persistent rows returned in the order given, matched by the `unique`
    columns, whose values differ from one object to the next. A flush inserts row by row
    on SQLite, where nothing ties the keys it generates to the order of the rows
    (SQLAlchemy's "insertmanyvalues" then runs one INSERT a row): 500 rows were 500 round
    trips to the database thread, under the write lock. No mapper insert events run (none
    are used here)."""
    if not objects:
        return []
    model = type(objects[0])
    rows = [
        {key: value for key, value in vars(obj).items() if not key.startswith("_sa_")}
        for obj in objects
    ]
    keys = [column.key for column in unique]
    made = {
        tuple(getattr(row, k) for k in keys): row
        for row in await session.scalars(insert(model).returning(model), rows)
    }
    return [made[tuple(getattr(obj, k) for k in keys)] for obj in objects]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# how long a SQLite connection waits for the write lock held by another process (a `satreps`
# command on the same file), in ms; within the process writers queue (WRITE_TURN_SECONDS)
BUSY_TIMEOUT_MS = 5000
# how long a transaction begun IMMEDIATE waits for its turn among the process's writers
# (server/core/sqlite_gate.py), then "database is locked": below the execution timeout's
# default 30 s, so a mutation that waited it out is answered DATABASE_BUSY, not timed out
WRITE_TURN_SECONDS = 20.0


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT and transactional DDL;
    # let SQLAlchemy emit BEGIN itself (see the SQLAlchemy SQLite dialect docs).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()
    # SQLite has no base64 in SQL: the compiled read path builds global ids and cursors
    for name, encode in (
        ("satreps_b64", base64.b64encode),
        ("satreps_b64url", base64.urlsafe_b64encode),
    ):
        dbapi_conn.create_function(name, 1, _text_codec(encode), deterministic=True)
    dbapi_conn.create_function("satreps_isoformat", 1, _isoformat, deterministic=True)
    dbapi_conn.create_function("satreps_float", 1, _float_text, deterministic=True)


def _isoformat(stored: str | None) -> str | None:
    """A stored UTC datetime as the API writes it (datetime.isoformat)."""
    if stored is None:
        return None
    return dt.datetime.fromisoformat(stored).replace(tzinfo=dt.UTC).isoformat()


def _float_text(value: float | None) -> str | None:
    """A float as Python's json writes it (repr: the shortest text that reads back the same;
    SQLite's JSON functions keep 15 digits)."""
    return None if value is None else repr(float(value))


def _text_codec(encode: Any) -> Any:
    def apply(value: Any) -> str | None:
        return None if value is None else encode(str(value).encode()).decode()

    return apply


# the execution option naming how a SQLite transaction begins (writer_sessions, begin_write)
SQLITE_BEGIN = "satreps_sqlite_begin"


def _sqlite_begin(conn: Any, gate: WriteGate | None) -> None:
    if conn.get_execution_options().get(SQLITE_BEGIN) != "IMMEDIATE":
        conn.exec_driver_sql("BEGIN")
    elif gate is None:  # a memory database: its one connection never waits
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        gate.begin_immediate(conn)


def _prepared_statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4().hex}__"


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg behind PgBouncer's transaction pooling (SQLAlchemy's asyncpg dialect docs):
    no statement caches (a cached statement lives on one server connection), and a unique
    name for each statement prepared, so two clients sharing a server connection never
    collide on asyncpg's per-connection counter names."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": _prepared_statement_name,
    }


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, pgbouncer: bool = False
) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        options: dict[str, Any] = {}
        database = parsed.database or ":memory:"
        file = database != ":memory:"
        if file:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            # a file's pool (a memory database has one connection): kept connections, and as
            # many again when busy, each opened with its thread, pragmas and functions
            options.update(pool_size=pool_size, max_overflow=pool_size)
        if parsed.get_driver_name() == "aiosqlite":  # one trip a statement (sqlite_driver)
            options["module"] = one_trip_dbapi()
        engine = create_async_engine(url, echo=echo, **options)
        gate = install(engine.sync_engine, WRITE_TURN_SECONDS) if file else None
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", lambda conn: _sqlite_begin(conn, gate))
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        pool_pre_ping=True,
        connect_args=pgbouncer_connect_args() if pgbouncer else {},
    )


def engine_from_settings(settings: Settings) -> AsyncEngine:
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        echo=settings.sql_echo,
        pgbouncer=settings.db_pgbouncer,
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# SQLite (WAL) lets many read and one write at a time. A transaction begun as a reader (a
# plain BEGIN) that then writes while another connection holds the write lock is refused at
# once with "database is locked": its snapshot may be stale, so SQLite does not wait, and the
# busy timeout never applies. One that asks for the lock at BEGIN (BEGIN IMMEDIATE) waits for
# it like any writer. Units of work that write begin so; reads stay plain BEGINs, which never
# wait on a writer. Within the process, writers begun IMMEDIATE on a file wait their turn in
# order behind the engine's write gate (server/core/sqlite_gate.py: an asyncio.Lock, taken
# at BEGIN and given back when the transaction ends, WRITE_TURN_SECONDS at most), not in
# SQLite's busy handler, whose sleeps let newer writers overtake an old one until its busy
# timeout ran out; BUSY_TIMEOUT_MS is left for writers of other processes. A writer that
# waited out either gets "database is locked": nothing was written, and the API answers it
# 503 DATABASE_BUSY with Retry-After (database_busy), the workers retry it.


def writer_sessions(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions whose transactions take SQLite's write lock at BEGIN (the in-process jobs,
    the upload endpoint): the same factory on PostgreSQL, or bound to a connection."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return sessions
    return session_factory(bind.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"}))


async def begin_write(session: AsyncSession) -> None:
    """Make the rest of `session`'s work one SQLite write transaction begun IMMEDIATE: what
    it did so far (reads, the token's last-used note) is committed first. Nothing on
    PostgreSQL, nor when the session is bound to a connection's transaction (the tests')."""
    bind = session.bind
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return
    if session.in_transaction():
        await session.commit()
    await session.connection(execution_options={SQLITE_BEGIN: "IMMEDIATE"})


# asyncpg's errors of a server that is gone, going or not yet back (SQLSTATE classes 08 and
# 57P: connection exceptions, operator intervention), by name: asyncpg is PostgreSQL's only
_GONE = frozenset(
    {
        "AdminShutdownError",
        "CannotConnectNowError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CrashShutdownError",
        "PostgresConnectionError",
        "ClientCannotConnectError",
        "ConnectionRejectionError",
    }
)


class DatabaseUnavailable(Exception):
    """Raised where an answer was built from errors that say the database is unreachable or
    busy (the GraphQL endpoint's): the HTTP layer answers 503 DATABASE_UNAVAILABLE, or
    DATABASE_BUSY when SQLite's write lock was waited out (raise it `from` the error)."""


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or one it came from) says the database cannot be used for now:
    refused or cut connections, a server shutting down or starting up, or SQLite's write
    lock waited out (database_busy: its transaction wrote nothing). Such a failure is
    transient; SQLAlchemy's pool (pool_pre_ping, and the invalidation of a connection that
    failed this way) replaces the dead connections once the server is back."""
    return any(
        isinstance(current, DatabaseUnavailable)
        or (isinstance(current, DBAPIError) and current.connection_invalidated)
        or (isinstance(current, ConnectionError) and _raised_by_the_driver(current))
        or type(current).__name__ in _GONE
        or database_locked(current)
        for current in _chain(error)
    )


def database_busy(error: BaseException) -> bool:
    """Whether `error` (or one it came from) is SQLite's "database is locked" (or busy): a
    writer that waited out its turn or the busy timeout, its transaction rolled back."""
    return any(database_locked(current) for current in _chain(error))


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and those it came from (causes, else contexts), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _raised_by_the_driver(error: BaseException) -> bool:
    """asyncpg lets a refused connect's OSError through unwrapped: count it as the
    database's only when it came out of asyncpg or SQLAlchemy (not Redis, not S3)."""
    tb = error.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.startswith(("asyncpg", "sqlalchemy")):
            return True
        tb = tb.tb_next
    return False
