"""The fast path's PostgreSQL connections: a stack of asyncpg connections, each lent for one
request's single SELECTs in autocommit (server/core/fast_reads.py). The Redis rate limiter
lends its connections from one too (server/access/ratelimit.py: one charge per request).
A connection is anything with asyncpg's `is_closed()`, `terminate()` and `close(timeout=)`.

asyncpg's own Pool is built for connections that do anything: each release runs a reset,
re-arms an inactivity timer and goes through `asyncio.shield` (a Task per release). For a
request of one statement that is the largest cost outside the statement itself: on this
project's 2-core machine a checkout and release of asyncpg's Pool took about 33 µs of CPU,
against 1-2 µs for taking a connection off a list and putting it back, out of about 70 µs
for the whole statement on the pool (issue 26; `bench/http_floor.py` measures the server).

What is kept of a pool:
- at most `size` connections, opened when needed (none at start);
- a caller who finds every one busy waits its turn, first come first served, and is handed
  the next one released (or a free place to open one);
- a connection is reused only after its statements ended normally. After an error, a
  timeout or a cancellation asyncpg may still be cancelling the statement on the server, so
  the connection is dropped (aborted) and the next caller opens a fresh one;
- a connection idle for `idle_seconds` is closed, as asyncpg's pool closes its idle ones
  after 300 s (one timer for the whole stack, armed while anything is idle);
- `close()` closes the idle connections and each lent one as it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

IDLE_SECONDS = 300.0  # as asyncpg's max_inactive_connection_lifetime


class PoolClosed(Exception):
    """A checkout after close()."""


CLOSED = "the connection stack is closed"


class ConnectionStack:
    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        size: int,
        *,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        if size < 1:
            raise ValueError("a pool needs room for one connection at least")
        self._connect = connect
        self.size = size
        self.idle_seconds = idle_seconds
        self._idle: list[tuple[Any, float]] = []  # (connection, when it came back), newest last
        self._open = 0  # connections open or being opened, lent or idle
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._closing: set[asyncio.Task[Any]] = set()  # graceful closes under way
        self._timer: asyncio.TimerHandle | None = None  # the next look for idle connections
        self._closed = False

    @property
    def open(self) -> int:
        return self._open

    async def acquire(self) -> Any:
        if self._closed:
            raise PoolClosed(CLOSED)
        idle = self._idle
        while idle:
            connection = idle.pop()[0]
            if not connection.is_closed():
                return connection
            self._open -= 1  # the server closed it while it was idle
        if self._open < self.size:
            return await self._new()
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            got = await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):  # _hand may have passed over it
                    self._waiting.remove(waiter)
            elif waiter.exception() is None:  # handed a connection (or a place) just then
                self._pass_on(waiter.result())
            raise
        # None: the place of a connection dropped, kept for this caller to open one in
        return got if got is not None else await self._new(reserved=True)

    def release(self, connection: Any, *, reusable: bool) -> None:
        """Give a connection back: kept for the next caller when its statements ended
        normally, else aborted (its place goes to a waiter, who opens a new one)."""
        if not reusable or self._closed or connection.is_closed():
            connection.terminate()
            self._give_up_place()
            return
        if self._hand(connection):
            return
        self._idle.append((connection, monotonic()))
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.idle_seconds, self._expire)

    async def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(PoolClosed(CLOSED))
        for connection, _ in idle:
            self._close_later(connection)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _expire(self) -> None:
        """Close the connections idle for `idle_seconds` (the least recently used come
        first), and look again when the next one will have idled as long."""
        self._timer = None
        now = monotonic()
        idle = self._idle
        while idle and now - idle[0][1] >= self.idle_seconds:
            self._open -= 1
            self._close_later(idle.pop(0)[0])
        if idle:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(idle[0][1] + self.idle_seconds - now, self._expire)

    async def _new(self, *, reserved: bool = False) -> Any:
        """A new connection, in a free place or (`reserved`) in one handed over."""
        if not reserved:
            self._open += 1
        try:
            return await self._connect()
        except BaseException:
            self._give_up_place()
            raise

    def _give_up_place(self) -> None:
        """A connection's place is free: handed to the first caller waiting (still counted,
        so that nobody arriving meanwhile opens one past the size), else counted out."""
        if not self._hand(None):
            self._open -= 1

    def _hand(self, got: Any) -> bool:
        """Hand a connection (or, with None, a place to open one) to the first caller still
        waiting; False when nobody waits."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(got)
                return True
        return False

    def _pass_on(self, got: Any) -> None:
        if got is None:
            self._give_up_place()  # a place nobody took: the next caller's, or free
        else:
            self.release(got, reusable=True)

    def _close_later(self, connection: Any) -> None:
        task = asyncio.ensure_future(connection.close(timeout=5))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
