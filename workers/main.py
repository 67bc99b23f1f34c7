"""`satreps worker`: the arq worker process (production mode, with Redis).

Every worker processes uploads and runs the reconciler, which queues again what the
database says is waiting (queued for a while, or processing under an expired lease), so a
lost Redis or a killed worker loses nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from server.config import Settings, get_settings
from server.db import engine_from_settings, session_factory
from server.events import bus_from_url
from server.jobs import PROCESS_UPLOAD
from server.storage import store_from_settings
from workers.pipeline import job_id, process_upload, waiting_uploads

QUEUE = "satreps:queue"


async def reconcile(ctx: dict[str, Any]) -> int:
    queued = 0
    stale = dt.timedelta(seconds=ctx["settings"].upload_stale_queued_seconds)
    for upload_id, attempts in await waiting_uploads(ctx["sessions"], stale):
        job = await ctx["redis"].enqueue_job(
            PROCESS_UPLOAD, upload_id, _job_id=job_id(upload_id, attempts), _queue_name=QUEUE
        )
        queued += job is not None
    return queued


async def startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    ctx["settings"] = settings
    ctx["engine"] = engine_from_settings(settings)
    ctx["sessions"] = session_factory(ctx["engine"])
    ctx["store"] = store_from_settings(settings)
    ctx["events"] = bus_from_url(settings.redis_url)
    await ctx["store"].ensure_buckets()


async def shutdown(ctx: dict[str, Any]) -> None:
    ctx["store"].close()
    await ctx["events"].close()
    await ctx["engine"].dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        raise SystemExit(
            "satreps worker needs SATREPS_REDIS_URL (embedded mode processes in `serve`)"
        )
    return {
        "functions": [process_upload],
        "cron_jobs": [cron(reconcile, second=set(range(0, 60, 5)), run_at_startup=True)],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": QUEUE,
        "poll_delay": 0.02,  # FACTS.md: 0.5 s default costs ~270 ms per job start
        "max_jobs": 8,
        "job_timeout": 6 * 3600,  # big files; a killed worker is recovered by the lease
        "keep_result": 60,
        "ctx": {"settings": settings},
    }
