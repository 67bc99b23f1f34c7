"""The notification jobs: the dispatcher's rounds and the daily digest (bodies in
server/notifications/dispatch.py and digest.py). arq runs them as crons (workers/main.py):
several workers share the due deliveries (SKIP LOCKED claims); embedded, `notify_forever`
runs in the API process. Both poll the database: a flushed Redis loses nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from server.notifications.dispatch import Dispatcher
from workers.context import WorkerContext

log = logging.getLogger(__name__)
ROUND_SECONDS = 5.0  # one cron run's longest stretch of work (the next tick takes over)


async def deliver_notifications_job(ctx: WorkerContext) -> int:
    dispatcher = Dispatcher(ctx["settings"], ctx["sessions"])
    try:
        return await dispatcher.run_until_idle(max_seconds=ROUND_SECONDS)
    finally:
        await dispatcher.aclose()


async def daily_digest_job(ctx: WorkerContext) -> int:
    dispatcher = Dispatcher(ctx["settings"], ctx["sessions"])
    sent = await dispatcher.send_digests()
    if sent:
        log.info("sent %s digest e-mails", sent)
    return sent


async def notify_forever(ctx: WorkerContext) -> None:
    """Embedded mode's dispatcher: a round every notify_poll_seconds, and the digest once a
    day at digest_hour_utc."""
    settings = ctx["settings"]
    dispatcher = Dispatcher(settings, ctx["sessions"])
    digest_day: dt.date | None = None
    try:
        while True:
            try:
                await dispatcher.run_until_idle(max_seconds=ROUND_SECONDS)
                now = dt.datetime.now(dt.UTC)
                if now.hour >= settings.digest_hour_utc and digest_day != now.date():
                    await dispatcher.send_digests()
                    digest_day = now.date()
            except Exception:  # the next round tries again; the database keeps everything
                log.exception("notification round failed")
            await asyncio.sleep(settings.notify_poll_seconds)
    finally:
        await dispatcher.aclose()
