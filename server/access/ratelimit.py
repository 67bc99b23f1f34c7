"""Per-principal rate limits in points per hour (GitHub style: each query costs what it asks
for, see schema/protection.py). Fixed hourly windows: in Redis when configured, so every
replica shares one budget; in this process when embedded."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hiredis import pack_command
from redis.asyncio.connection import Connection, ConnectionPool
from redis.exceptions import NoScriptError, RedisError

from server.core.config import DEFAULT_REDIS_PREFIX, Settings
from server.core.fast_pool import ConnectionStack

WINDOW_SECONDS = 3600
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Charge:
    """The state of a budget after a request was charged (or refused)."""

    limit: int
    used: int
    cost: int
    reset_at: dt.datetime
    allowed: bool

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def retry_after(self, now: float | None = None) -> int:
        """Whole seconds until the budget is full again (at least 1): a 429's Retry-After."""
        left = self.reset_at.timestamp() - (time.time() if now is None else now)
        return max(1, math.ceil(left))


class RateLimiter(Protocol):
    remote: bool  # a charge waits for a round trip (the fast path sends it beside its reads)

    async def charge(self, key: str, cost: int, limit: int) -> Charge: ...

    async def close(self) -> None: ...


def _window(now: float) -> tuple[int, dt.datetime]:
    window = int(now // WINDOW_SECONDS)
    return window, _window_end(window)


@functools.lru_cache(maxsize=4)
def _window_end(window: int) -> dt.datetime:
    return dt.datetime.fromtimestamp((window + 1) * WINDOW_SECONDS, dt.UTC)


class MemoryRateLimiter:
    """Embedded mode: one process, one dict of budgets. A charge reads and writes its
    budget without awaiting in between: on the one event loop nothing runs in the middle,
    so it needs no lock."""

    remote = False

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._used: dict[str, tuple[int, int]] = {}  # key -> (window, points used)

    async def charge(self, key: str, cost: int, limit: int) -> Charge:
        window, reset_at = _window(self._clock())
        seen, used = self._used.get(key, (window, 0))
        if seen != window:
            used = 0
        allowed = used + cost <= limit
        if allowed:
            used += cost
        if len(self._used) > 100_000:  # forget past windows
            self._used = {k: v for k, v in self._used.items() if v[0] == window}
        self._used[key] = (window, used)
        return Charge(limit=limit, used=used, cost=cost, reset_at=reset_at, allowed=allowed)

    async def close(self) -> None:
        return None


# Atomic check-and-charge: a refused request charges nothing.
_CHARGE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if used + cost > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], cost)
if used == cost then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
end
return {1, used}
"""


def _packed(*parts: str | bytes | int) -> bytes:
    """A command in Redis's protocol, packed by hiredis (redis-py's parser here)."""
    # hiredis's stub types the tuple as of one part only
    packed: bytes = pack_command(parts)  # type: ignore[arg-type]
    return packed


class _Link:
    """One of redis-py's own connections, as the connection stack lends them
    (server/core/fast_pool.py). redis-py disconnects it itself after any error or
    cancellation in the middle of a command; what is left connected then is disconnected
    here."""

    __slots__ = ("connection", "_closing")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._closing: asyncio.Task[None] | None = None

    def is_closed(self) -> bool:
        """Disconnected, or closed by Redis while idle (its end already seen by the event
        loop: no round trip to find out, as asyncpg's is_closed)."""
        reader = self.connection._reader
        return reader is None or reader.at_eof()

    def terminate(self) -> None:
        if self.connection.is_connected:
            self._closing = asyncio.ensure_future(self.connection.disconnect(nowait=True))

    async def close(self, timeout: float) -> None:  # noqa: ASYNC109 (asyncpg's close, as the stack calls it)
        async with asyncio.timeout(timeout):
            await self.connection.disconnect()


class RedisRateLimiter:
    """Production: one budget per principal across every replica. If Redis fails, requests
    are let through (and logged): the limit protects capacity, not confidentiality.

    Every request pays one charge, so it is sent on redis-py's own connections, lent from
    a plain stack, as one packed EVALSHA (issue 26: through the client, its pool and
    `Script`, a charge took 61-67 µs of CPU on the project's 2-core machine; this way 22-23,
    the two alternated in one process). A script Redis no longer has (restarted, flushed)
    is sent whole once (EVAL) and is cached by Redis again."""

    remote = True

    def __init__(
        self, url: str, prefix: str = DEFAULT_REDIS_PREFIX + "ratelimit:", *, links: int = 16
    ) -> None:
        self._factory = ConnectionPool.from_url(url)
        self._prefix = prefix
        self._sha = hashlib.sha1(_CHARGE.encode()).hexdigest().encode()
        self._links = ConnectionStack(self._connect, links)

    async def _connect(self) -> _Link:
        connection: Connection = self._factory.make_connection()  # type: ignore[no-untyped-call]
        await connection.connect()  # type: ignore[no-untyped-call]
        return _Link(connection)

    async def charge(self, key: str, cost: int, limit: int) -> Charge:
        window, reset_at = _window(time.time())
        args = (f"{self._prefix}{key}:{window}", cost, limit, WINDOW_SECONDS + 60)
        try:
            allowed, used = await self._run(args)
        except RedisError:
            log.warning("rate limiter unavailable: request let through", exc_info=True)
            return Charge(limit=limit, used=0, cost=cost, reset_at=reset_at, allowed=True)
        return Charge(
            limit=limit, used=int(used), cost=cost, reset_at=reset_at, allowed=bool(allowed)
        )

    async def _run(self, args: tuple[str, int, int, int]) -> Any:
        link = await self._links.acquire()
        connection = link.connection
        ended = False  # the reply was read whole: the connection can be lent again
        try:
            try:
                await connection.send_packed_command(
                    _packed(b"EVALSHA", self._sha, 1, *args), check_health=False
                )
                reply = await connection.read_response()
            except NoScriptError:
                await connection.send_packed_command(
                    _packed(b"EVAL", _CHARGE, 1, *args), check_health=False
                )
                reply = await connection.read_response()
            ended = True
            return reply
        finally:
            self._links.release(link, reusable=ended)

    async def close(self) -> None:
        await self._links.close()
        await self._factory.aclose()


def limiter_from_settings(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.redis_prefix + "ratelimit:")
    return MemoryRateLimiter()
