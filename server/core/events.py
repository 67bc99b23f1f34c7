"""Status events: Redis pub/sub in production (any API replica sees any worker's events),
in memory when embedded. An event names the state an upload has just entered; a subscriber
reads the row again (the database stays the truth) and, when the row has already moved on,
still shows the states it passed through, in order."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from server.core.config import DEFAULT_REDIS_PREFIX

RECHECK_SECONDS = 5.0  # a subscriber looks at the database at least this often
CATCH_UP_SECONDS = 0.5  # how long a subscriber shown an older state waits for its next event


def upload_channel(upload_id: int) -> str:
    """An upload's channel; a RedisBus puts its deployment's prefix in front."""
    return f"upload:{upload_id}"


async def or_every(
    changes: AsyncIterator[dict[str, Any]], seconds: float | Callable[[], float]
) -> AsyncIterator[dict[str, Any] | None]:
    """Each message of `changes`, or None after `seconds` (a number, or asked each time)
    without one. A process killed between its commit and its event sends none: a
    subscriber that also looks every few seconds misses no final state."""
    pending: asyncio.Future[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(changes))
            timeout = seconds() if callable(seconds) else seconds
            done, _ = await asyncio.wait({pending}, timeout=timeout)
            if done:
                message, pending = pending.result(), None
                yield message
            else:
                yield None
    finally:
        if pending is not None:
            pending.cancel()


class EventBus(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """Each (channel, message) in order, in one round trip where the bus has them."""
        ...

    def subscribe(self, channel: str) -> Any:
        """An async context manager yielding an async iterator of messages."""
        ...

    async def close(self) -> None: ...


class MemoryBus:
    def __init__(self) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            queue.put_nowait(message)

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        for channel, message in messages:
            await self.publish(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._queues[channel].add(queue)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            self._queues[channel].discard(queue)
            if not self._queues[channel]:
                del self._queues[channel]

    async def close(self) -> None:
        self._queues.clear()


class RedisBus:
    """Channels on Redis under the deployment's prefix (`satreps:upload:6` by default):
    deployments sharing a Redis with other prefixes never hear each other."""

    def __init__(self, url: str, prefix: str = DEFAULT_REDIS_PREFIX) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(message))

    async def publish_many(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        """One pipeline (no MULTI): a batch's hundreds of events in one round trip."""
        if not messages:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, message in messages:
                pipe.publish(self._prefix + channel, json.dumps(message))
            await pipe.execute()

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        pubsub = self._redis.pubsub()
        channel = self._prefix + channel
        await pubsub.subscribe(channel)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for raw in pubsub.listen():
                if raw.get("type") == "message":
                    yield json.loads(raw["data"])

        try:
            yield messages()
        finally:
            await pubsub.unsubscribe(channel)
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


def bus_from_url(redis_url: str | None, prefix: str = DEFAULT_REDIS_PREFIX) -> EventBus:
    return RedisBus(redis_url, prefix) if redis_url else MemoryBus()
