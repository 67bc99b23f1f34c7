"""The fast path's rate-limit charge in Redis (issue 26), on the real Redis: sent beside the
statements, not before them; a refused charge discards their rows and takes nothing, and
the refused budget's next requests run no statement before strawberry refuses them; a
request handed on after its statements failed is charged once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from server.access.ratelimit import RedisRateLimiter
from server.http.app import create_app
from server.http.fast_answer import FastPath

REDIS_URL = "redis://127.0.0.1:6379/13"
QUERY = {"query": "query Menu { themes { code } }"}


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@asynccontextmanager
async def served(settings, sessions, jobs, events, points: int) -> AsyncIterator[Any]:
    limited = settings.model_copy(
        update={"redis_url": REDIS_URL, "rate_limit_anonymous_points": points}
    )
    app = create_app(limited, sessions=sessions, jobs=jobs, events=events)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            yield http


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time the fast path ran a plan's statements."""
    calls: list[str] = []
    original = FastPath._run

    async def counted(self: Any, *args: Any) -> Any:
        calls.append("run")
        return await original(self, *args)

    monkeypatch.setattr(FastPath, "_run", counted)
    return calls


async def used(redis: Redis) -> int:
    (key,) = [k async for k in redis.scan_iter(match="*ratelimit:client:*")]
    return int(await redis.get(key))


async def test_the_charge_is_sent_beside_the_statements(
    settings, sessions, jobs, events, redis, monkeypatch
):
    """The fast request's charge cannot end before its statements have started: charged
    first and read after (as before), the request would wait on itself and fail."""
    started = asyncio.Event()
    original_run, original_charge = FastPath._run, RedisRateLimiter.charge
    order: list[str] = []
    charges = 0

    async def run(self: Any, *args: Any) -> Any:
        order.append("statements")
        started.set()
        return await original_run(self, *args)

    async def charge(self: Any, *args: Any) -> Any:
        nonlocal charges
        charges += 1
        if charges == 2:  # the fast request's (the first is the long way's, before strawberry)
            order.append("charge sent")
            await asyncio.wait_for(started.wait(), 5)
        return await original_charge(self, *args)

    monkeypatch.setattr(FastPath, "_run", run)
    monkeypatch.setattr(RedisRateLimiter, "charge", charge)
    async with served(settings, sessions, jobs, events, 100) as http:
        first = await http.post("/graphql", json=QUERY)  # the long way: kept
        second = await http.post("/graphql", json=QUERY)  # the fast path
    assert order == ["charge sent", "statements"]  # sent first, its reply awaited after
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() and second.json()["data"]["themes"]
    assert [int(a.headers["x-ratelimit-used"]) for a in (first, second)] == [1, 2]
    assert await used(redis) == 2


async def test_a_refused_charge_discards_the_rows_and_the_next_run_no_statement(
    settings, sessions, jobs, events, redis, runs
):
    async with served(settings, sessions, jobs, events, 2) as http:
        answers = [await http.post("/graphql", json=QUERY) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 429, 429]
    for refused in answers[2:]:
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMITED" and refused.json()["data"] is None
        assert int(refused.headers["retry-after"]) >= 1
    # the second ran its statements and was answered; the third ran them, its charge was
    # refused, and strawberry refused it; the fourth went straight to strawberry
    assert runs == ["run", "run"]
    assert await used(redis) == 2  # refused charges took nothing


async def test_a_request_handed_on_after_its_statements_failed_is_charged_once(
    settings, sessions, jobs, events, redis, monkeypatch
):
    from schema.compiled import fast

    async with served(settings, sessions, jobs, events, 100) as http:
        first = await http.post("/graphql", json=QUERY)

        async def failing(*_: Any) -> str:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(fast, "answer", failing)
        handed_on = await http.post("/graphql", json=QUERY)
    assert first.status_code == handed_on.status_code == 200
    assert handed_on.json() == first.json()
    assert [int(a.headers["x-ratelimit-used"]) for a in (first, handed_on)] == [1, 2]
    assert await used(redis) == 2
