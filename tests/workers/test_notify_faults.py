"""Notifications on the production stack (PostgreSQL, Redis, `satreps worker` processes):
a worker SIGKILLed in the middle of a webhook delivery, then Redis flushed; a second
worker delivers it, under the same delivery id, from what the database holds."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from sqlalchemy import select

from server.models import Delivery, DeliveryAttempt
from server.notifications import service
from server.notifications.events import emit
from tests.fixtures.notify import ReceiverServer
from tests.fixtures.stack import REDIS_URL, Stack

ENV = {
    "SATREPS_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback (tests only)
    "SATREPS_NOTIFY_CLAIM_SECONDS": "3",
    "SATREPS_WEBHOOK_TIMEOUT_SECONDS": "120",  # the first attempt hangs until the kill
}


async def until(check, seconds: float, what: str) -> None:
    for _ in range(int(seconds / 0.1)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not {what} after {seconds} s")


async def test_a_killed_worker_and_a_flushed_redis_lose_no_notification(
    stack: Stack, receivers: ReceiverServer
):
    project = await stack.factory.project()
    receiver = receivers.add("production", "hang_first")
    allowed = stack.settings.model_copy(update={"webhook_allow_private": True})
    async with stack.sessions() as session:
        created = await service.create_webhook(
            session,
            stack.factory.principal,
            allowed,
            url=receiver.url,
            project_id=project.id,
            events=["version.published"],
        )
        await session.commit()
    receiver.secret = created.secret
    first = await stack.start_worker(**ENV)
    async with stack.sessions() as session:
        emit(session, "version.published", project_id=project.id, payload={"number": 1})
        await session.commit()

    async def called() -> bool:
        return receiver.calls == 1

    await until(called, 30, "called")
    first.kill()  # SIGKILL in the middle of the POST: its claim stays in the database
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()  # our database only: every job, cron mark and result gone
    finally:
        await redis.aclose()
    await stack.start_worker(**ENV)

    async def recorded() -> bool:  # the receiver answered, and the worker wrote it down
        async with stack.sessions() as session:
            return await session.scalar(select(Delivery.state)) == "delivered"

    await until(recorded, 60, "delivered by the second worker")
    [got] = receiver.got
    assert got.signed and got.event == "version.published"
    assert receiver.seen[got.delivery_id] == 2  # the same delivery id both times
    async with stack.sessions() as session:
        [delivery] = (await session.scalars(select(Delivery))).all()
        log = (await session.scalars(select(DeliveryAttempt))).all()
    assert (delivery.delivery_id, delivery.state, delivery.attempts) == (
        got.delivery_id,
        "delivered",
        2,
    )
    assert [(a.attempt, a.ok) for a in log] == [(2, True)]  # the killed attempt left no record
