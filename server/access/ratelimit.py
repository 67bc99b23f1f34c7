"""Per-principal rate limits in points per hour (GitHub style: each query costs what it asks
for, see schema/protection.py). Fixed hourly windows: in Redis when configured, so every
replica shares one budget; in this process when embedded."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.core.config import DEFAULT_REDIS_PREFIX, Settings

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


class RedisRateLimiter:
    """Production: one budget per principal across every replica. If Redis fails, requests
    are let through (and logged): the limit protects capacity, not confidentiality."""

    def __init__(self, url: str, prefix: str = DEFAULT_REDIS_PREFIX + "ratelimit:") -> None:
        self._redis = Redis.from_url(url)
        self._prefix = prefix
        self._script = self._redis.register_script(_CHARGE)

    async def charge(self, key: str, cost: int, limit: int) -> Charge:
        window, reset_at = _window(time.time())
        try:
            allowed, used = await self._script(
                keys=[f"{self._prefix}{key}:{window}"],
                args=[cost, limit, WINDOW_SECONDS + 60],
            )
        except RedisError:
            log.warning("rate limiter unavailable: request let through", exc_info=True)
            return Charge(limit=limit, used=0, cost=cost, reset_at=reset_at, allowed=True)
        return Charge(
            limit=limit, used=int(used), cost=cost, reset_at=reset_at, allowed=bool(allowed)
        )

    async def close(self) -> None:
        await self._redis.aclose()


def limiter_from_settings(settings: Settings) -> RateLimiter:
    if settings.redis_url:
        return RedisRateLimiter(settings.redis_url, settings.redis_prefix + "ratelimit:")
    return MemoryRateLimiter()
