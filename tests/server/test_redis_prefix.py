"""Two deployments on one Redis (issue 18 item 16): with their own `redis_prefix` their
events, queues, job ids, crons and rate limits never meet; the default keeps today's names.
Runs on the real Redis, under prefixes of its own that it removes afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from arq import func
from arq.worker import Worker
from redis.asyncio import Redis

from server.access.ratelimit import limiter_from_settings
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.core.events import bus_from_url, upload_channel
from server.core.jobs import PROCESS_UPLOAD, ArqJobs
from server.http.app import build_jobs
from server.storage import store_from_settings
from workers.main import worker_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class Deployment:
    settings: Settings

    @property
    def prefix(self) -> str:
        return self.settings.redis_prefix


def deployment(tmp_path: Path, prefix: str) -> Deployment:
    return Deployment(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
            object_dir=tmp_path / "objects",
            redis_url=REDIS_URL,
            redis_prefix=prefix,
        )
    )


@pytest.fixture
async def two(tmp_path: Path) -> AsyncIterator[tuple[Deployment, Deployment]]:
    run = uuid.uuid4().hex[:8]
    a, b = deployment(tmp_path, f"t{run}-a:"), deployment(tmp_path, f"t{run}-b:")
    yield a, b
    redis = Redis.from_url(REDIS_URL)
    try:
        for pattern in (f"t{run}-*", f"arq:*t{run}-*"):
            keys = [key async for key in redis.scan_iter(match=pattern)]
            if keys:
                await redis.delete(*keys)
    finally:
        await redis.aclose()


async def next_message(messages: Any) -> dict[str, Any]:
    return await asyncio.wait_for(anext(messages), 5)


async def test_events_stay_in_their_deployment(two: tuple[Deployment, Deployment]) -> None:
    a, b = two
    bus_a = bus_from_url(REDIS_URL, a.prefix)
    bus_b = bus_from_url(REDIS_URL, b.prefix)
    raw = Redis.from_url(REDIS_URL).pubsub()
    try:
        await raw.subscribe(f"{a.prefix}upload:6")  # the name on Redis: the prefix in front
        channel = upload_channel(6)  # the same upload id in both deployments
        async with bus_a.subscribe(channel) as on_a, bus_b.subscribe(channel) as on_b:
            await asyncio.sleep(0.05)  # let the subscriptions reach Redis
            await bus_a.publish(channel, {"from": "a"})
            await bus_b.publish(channel, {"from": "b"})
            await bus_a.publish(channel, {"from": "a", "n": 2})
            assert await next_message(on_a) == {"from": "a"}
            assert await next_message(on_a) == {"from": "a", "n": 2}  # b's never came
            assert await next_message(on_b) == {"from": "b"}
            await bus_b.publish(channel, {"from": "b", "n": 2})
            assert await next_message(on_b) == {"from": "b", "n": 2}  # a's never came
        seen: list[bytes] = []
        while len(seen) < 2:
            message = await raw.get_message(ignore_subscribe_messages=True, timeout=5)
            if message is not None:
                seen.append(message["data"])
        assert seen == [b'{"from": "a"}', b'{"from": "a", "n": 2}']
    finally:
        await raw.aclose()
        await bus_a.close()
        await bus_b.close()


async def record(ctx: dict[str, Any], upload_id: int) -> None:
    ctx["seen"].append((ctx["job_id"], upload_id))


async def test_queues_and_job_ids_stay_in_their_deployment(
    two: tuple[Deployment, Deployment], tmp_path: Path
) -> None:
    a, b = two
    engine = make_engine(a.settings.database_url)
    store = store_from_settings(a.settings)
    jobs_a = build_jobs(a.settings, session_factory(engine), store, bus_from_url(None))
    jobs_b = build_jobs(b.settings, session_factory(engine), store, bus_from_url(None))
    assert isinstance(jobs_a, ArqJobs) and isinstance(jobs_b, ArqJobs)
    redis = Redis.from_url(REDIS_URL)
    try:
        # the same upload's job in both deployments: neither refuses the other's
        assert await jobs_a.enqueue(PROCESS_UPLOAD, 6, job_id="process_upload:6:0")
        assert await jobs_b.enqueue(PROCESS_UPLOAD, 6, job_id="process_upload:6:0")
        assert await redis.zrange(a.settings.redis_queue, 0, -1) == [
            f"{a.prefix}process_upload:6:0".encode()
        ]
        assert await redis.zrange(b.settings.redis_queue, 0, -1) == [
            f"{b.prefix}process_upload:6:0".encode()
        ]
        # b's worker (its queue as `satreps worker` would read it) runs b's job only
        seen: list[tuple[str, int]] = []
        worker = Worker(
            functions=[func(record, name=PROCESS_UPLOAD)],
            queue_name=worker_settings(b.settings)["queue_name"],
            redis_pool=await jobs_b._connect(),
            burst=True,
            poll_delay=0.01,
            ctx={"seen": seen},
            handle_signals=False,
        )
        await worker.main()
        await worker.close()
        assert seen == [(f"{b.prefix}process_upload:6:0", 6)]
        assert await redis.zcard(a.settings.redis_queue) == 1  # a's job still waits for a
    finally:
        await redis.aclose()
        await jobs_a.close()
        await jobs_b.close()
        store.close()
        await engine.dispose()


def test_worker_names_carry_the_prefix(tmp_path: Path) -> None:
    """The queue and the crons (a unique cron's arq id is its name and time: two
    deployments' crons of one name would run once between them)."""
    b = deployment(tmp_path, "deployment-b:")
    config = worker_settings(b.settings)
    assert config["queue_name"] == "deployment-b:queue"
    names = [job.name for job in config["cron_jobs"]]
    assert names and all(name.startswith("deployment-b:cron:") for name in names)


async def test_rate_limits_stay_in_their_deployment(two: tuple[Deployment, Deployment]) -> None:
    a, b = two
    limit_a, limit_b = limiter_from_settings(a.settings), limiter_from_settings(b.settings)
    redis = Redis.from_url(REDIS_URL)
    try:
        key = "anon:198.51.100.7"  # the same client of both deployments
        assert (await limit_a.charge(key, 2, 2)).allowed
        assert not (await limit_a.charge(key, 1, 2)).allowed  # a's budget is spent
        fresh = await limit_b.charge(key, 2, 2)
        assert fresh.allowed and fresh.used == 2  # b's is not
        assert [k async for k in redis.scan_iter(match=f"{a.prefix}ratelimit:{key}:*")]
    finally:
        await redis.aclose()
        await limit_a.close()
        await limit_b.close()


def test_the_default_prefix_keeps_todays_names() -> None:
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db")
    assert settings.redis_prefix == "satreps:"
    assert settings.redis_queue == "satreps:queue"


@pytest.mark.parametrize("bad", ["", "has space:", "glob*:"])
def test_a_prefix_must_be_a_plain_name(bad: str) -> None:
    with pytest.raises(ValueError, match="redis_prefix"):
        Settings(database_url="sqlite+aiosqlite:///unused.db", redis_prefix=bad)
