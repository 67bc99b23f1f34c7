"""First come, first served among one process's SQLite writers (the embedded default).

SQLite lets one connection write at a time. A transaction begun IMMEDIATE that finds the
write lock taken waits in SQLite's busy handler, which sleeps and tries again (1 ms growing
to 100 ms): under load a writer lost to newer ones again and again until the busy timeout
refused it ("database is locked"; a startUploads after 8.7 s in a folder upload of 3,000
files). Within one process the writers queue instead: a transaction begun IMMEDIATE on a
SQLite file first takes its engine's asyncio.Lock, which wakes its waiters in the order they
came, and gives it back when the transaction ends (commit, rollback, or its connection
returned to the pool, invalidated, closed or detached without either). The busy timeout is
left for other processes (a `satreps` command writing the same file).

The lock is taken in SQLAlchemy's synchronous `begin` event, which its asyncio layer runs in
a greenlet where `await_` can wait. The wait is bounded: a transaction that waited `wait`
seconds gets SQLite's own refusal, which callers already treat as a locked database. That
bound also ends the one wait that could never end: a task that holds the gate and begins a
second IMMEDIATE transaction.

The gate is given back at the `commit` event, just before the DBAPI commit runs: the next
writer may find SQLite's lock still held for the commit's few milliseconds, and waits them
out in the busy handler.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.util.concurrency import in_greenlet

try:
    from sqlalchemy.util import await_
except ImportError:  # SQLAlchemy 2.0 names it await_only (2.1 keeps it as an alias)
    from sqlalchemy.util import await_only as await_

# connection.info (the pool record's): the loop and lock whose turn this connection holds
HELD = "satreps_write_gate"
LOCKED = "database is locked"
_GATES: WeakKeyDictionary[Engine, WriteGate] = WeakKeyDictionary()


class WriteGate:
    """One engine's queue of writers: an asyncio.Lock per event loop (a lock belongs to
    one loop; writers of different loops meet in SQLite's busy handler)."""

    def __init__(self, wait: float) -> None:
        self.wait = wait  # seconds a transaction waits for its turn, then SQLite's refusal
        self._locks: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )

    def begin_immediate(self, conn: Connection) -> None:
        """BEGIN IMMEDIATE once this transaction's turn has come (the `begin` event)."""
        self.take(conn)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:  # e.g. another process's writer past the busy timeout
            _transaction_ended(conn)
            raise

    def take(self, conn: Connection) -> None:
        if not in_greenlet():  # a synchronous use, outside asyncio: the busy timeout alone
            return
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        if not await_(_acquire(lock, self.wait)):
            raise locked_error("BEGIN IMMEDIATE")
        conn.info[HELD] = (loop, lock)

    def locked(self) -> bool:
        """Whether a transaction of the running loop holds the gate (tests)."""
        lock = self._locks.get(asyncio.get_running_loop())
        return lock is not None and lock.locked()


async def _acquire(lock: asyncio.Lock, wait: float) -> bool:
    try:
        async with asyncio.timeout(wait):
            await lock.acquire()
    except TimeoutError:
        return False
    return True


def locked_error(statement: str) -> OperationalError:
    """What SQLite answers a writer that waited out the busy timeout, as SQLAlchemy raises it."""
    return OperationalError(statement, None, sqlite3.OperationalError(LOCKED))


def give_back(info: dict[Any, Any]) -> None:
    """Release the turn `info`'s connection holds, if any (once: the mark goes with it)."""
    held = info.pop(HELD, None)
    if held is None:
        return
    loop, lock = held
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        lock.release()
    elif not loop.is_closed():  # a connection collected outside its loop
        loop.call_soon_threadsafe(lock.release)


def _transaction_ended(conn: Connection) -> None:
    if not (conn.closed or conn.invalidated):  # else the pool's events below give it back
        give_back(conn.info)


def _connection_ended(_dbapi_connection: Any, record: Any, *_: Any) -> None:
    if record is not None:
        give_back(record.info)


def install(engine: Engine, wait: float) -> WriteGate:
    """A gate for `engine` (a SQLite file's), given back by its transactions' and its
    pool's events."""
    for name in ("commit", "rollback"):
        event.listen(engine, name, _transaction_ended)
    for name in ("checkin", "invalidate", "close", "detach"):
        event.listen(engine, name, _connection_ended)
    gate = _GATES[engine] = WriteGate(wait)
    return gate


def gate_of(engine: Engine) -> WriteGate | None:
    """The gate of `engine` (make_engine's, of a SQLite file); None elsewhere."""
    return _GATES.get(engine)


def database_locked(error: BaseException) -> bool:
    """Whether `error` is SQLite's refusal of a writer that waited out its turn ("database
    is locked", or "database is busy"), bare or as SQLAlchemy raises it."""
    orig = getattr(error, "orig", None)
    current = orig if isinstance(orig, sqlite3.OperationalError) else error
    return isinstance(current, sqlite3.OperationalError) and str(current).startswith(
        (LOCKED, "database is busy")
    )
