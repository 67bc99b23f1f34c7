"""The Redis rate limiter on redis-py's own connections, lent from a stack (issue 26), on
the real Redis: charges and refusals, the script sent whole once Redis lost it, a
connection the server closed while idle, a charge cancelled halfway, Redis gone, close()."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from server.access.ratelimit import RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/12"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def limiter(redis: Redis) -> AsyncIterator[RedisRateLimiter]:
    prefix = f"test-limiter-{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(REDIS_URL, prefix, links=2)
    yield limiter
    await limiter.close()
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


async def our_connections(redis: Redis) -> list[dict]:
    """The limiter's connections to db 12, as Redis lists them (the test's own excluded)."""
    me = await redis.client_id()
    return [c for c in await redis.client_list() if c["db"] == "12" and int(c["id"]) != me]


async def test_charges_add_up_to_the_limit_and_a_refusal_charges_nothing(
    limiter: RedisRateLimiter, redis: Redis
) -> None:
    got = [await limiter.charge("account:1", 2, 5) for _ in range(3)]
    assert [(c.allowed, c.used, c.remaining) for c in got] == [
        (True, 2, 3),
        (True, 4, 1),
        (False, 4, 1),  # 4 + 2 > 5: refused, and the budget is as it was
    ]
    keys = [key async for key in redis.scan_iter(match=b"test-limiter-*account:1:*")]
    assert len(keys) == 1 and int(await redis.get(keys[0])) == 4
    assert 3600 < await redis.ttl(keys[0]) <= 3660
    assert len(await our_connections(redis)) == 1  # one connection, lent again each time


async def test_concurrent_charges_never_pass_the_limit_nor_the_stack_size(
    limiter: RedisRateLimiter, redis: Redis
) -> None:
    got = await asyncio.gather(*(limiter.charge("client:10.0.0.1", 1, 5) for _ in range(12)))
    assert sum(c.allowed for c in got) == 5
    assert sorted(c.used for c in got if c.allowed) == [1, 2, 3, 4, 5]
    assert len(await our_connections(redis)) <= 2  # links=2


async def test_a_script_redis_lost_is_sent_whole_and_cached_again(
    limiter: RedisRateLimiter, redis: Redis
) -> None:
    await limiter.charge("account:2", 1, 10)
    await redis.script_flush()
    assert (await limiter.charge("account:2", 1, 10)).used == 2  # NOSCRIPT, then EVAL
    assert (await redis.script_exists(limiter._sha.decode())) == [True]
    assert (await limiter.charge("account:2", 1, 10)).used == 3


async def test_a_connection_redis_closed_while_idle_is_not_lent_again(
    limiter: RedisRateLimiter, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    await limiter.charge("account:3", 1, 10)
    (first,) = await our_connections(redis)
    await redis.client_kill_filter(_id=first["id"])
    await asyncio.sleep(0.1)  # the close reaches the limiter's event loop
    with caplog.at_level(logging.WARNING, logger="server.access.ratelimit"):
        charge = await limiter.charge("account:3", 1, 10)
    assert charge.allowed and charge.used == 2  # charged on a new connection, not let through
    assert not caplog.records
    (second,) = await our_connections(redis)
    assert second["id"] != first["id"]


async def test_a_charge_cancelled_halfway_drops_its_connection(
    limiter: RedisRateLimiter, redis: Redis
) -> None:
    await limiter.charge("account:4", 1, 10)
    (first,) = await our_connections(redis)
    await redis.client_pause(2000, all=True)  # Redis holds every client's commands
    try:
        charge = asyncio.create_task(limiter.charge("account:4", 1, 10))
        await asyncio.sleep(0.05)  # sent, and waiting for its reply
        charge.cancel()
        with pytest.raises(asyncio.CancelledError):
            await charge
    finally:
        await redis.client_unpause()
    await asyncio.sleep(0.05)
    assert first["id"] not in {c["id"] for c in await our_connections(redis)}
    after = await limiter.charge("account:4", 1, 10)
    assert after.allowed  # a fresh connection, and the reply of the cancelled one not read
    assert after.used in (2, 3)  # the cancelled charge may or may not have run in Redis


async def test_redis_gone_lets_requests_through_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", "test-gone:")
    try:
        with caplog.at_level(logging.WARNING, logger="server.access.ratelimit"):
            charge = await limiter.charge("account:5", 1, 10)
        assert charge.allowed and charge.used == 0
        assert "rate limiter unavailable" in caplog.text
        assert limiter._links.open == 0  # the failed connect gave its place back
    finally:
        await limiter.close()


async def test_close_closes_the_connections(limiter: RedisRateLimiter, redis: Redis) -> None:
    await asyncio.gather(*(limiter.charge("account:6", 1, 10) for _ in range(4)))
    assert len(await our_connections(redis)) == 2
    await limiter.close()
    await asyncio.sleep(0.05)
    assert await our_connections(redis) == []
