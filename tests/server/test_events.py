"""Status events in memory and over a real Redis pub/sub."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from server.core.events import MemoryBus, RedisBus


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_subscribers_get_what_is_published_after_they_subscribe(kind):
    bus = MemoryBus() if kind == "memory" else RedisBus("redis://127.0.0.1:6379/0")
    channel = f"test:{uuid.uuid4().hex}"
    try:
        await bus.publish(channel, {"n": 0})  # nobody listens yet: lost, by design
        async with bus.subscribe(channel) as messages:
            await asyncio.sleep(0.05)
            await bus.publish(channel, {"n": 1})
            await bus.publish(channel, {"n": 2})
            got = [await asyncio.wait_for(anext(messages), 5) for _ in range(2)]
        assert got == [{"n": 1}, {"n": 2}]
    finally:
        await bus.close()
