"""`satreps worker`: the arq worker process (production mode, with Redis).

Every worker processes uploads and runs the reconciler, which queues again what the
database says is waiting (queued for a while, or processing under an expired lease), so a
lost Redis or a killed worker loses nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any, cast

from arq import cron, func
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.typing import WorkerCoroutine

from server.core.config import DEFAULT_REDIS_PREFIX, Settings, get_settings
from server.core.db import engine_from_settings, session_factory
from server.core.events import bus_from_url
from server.core.heap import settle_heap
from server.core.jobs import PROCESS_UPLOAD
from server.core.metrics import MetricsServer, queue_depth
from server.storage import store_from_settings
from workers.context import WorkerContext, worker_context
from workers.jobs import JOBS
from workers.pipeline import waiting_jobs

QUEUE = DEFAULT_REDIS_PREFIX + "queue"  # the default deployment's (Settings.redis_queue)
log = logging.getLogger(__name__)


async def reconcile(ctx: WorkerContext) -> int:
    queued = 0
    settings = ctx["settings"]
    stale = dt.timedelta(seconds=settings.upload_stale_queued_seconds)
    planned = await waiting_jobs(
        ctx["sessions"],
        stale,
        max_bytes=settings.upload_batch_max_bytes,
        per_batch=settings.upload_batch_files,
    )
    for job in planned:
        prefixed = settings.redis_prefix + job.job_id
        queued += await requeue_job(
            ctx["redis"], job.name, job.args, prefixed, settings.redis_queue
        )
    return queued


async def requeue(redis: Any, upload_id: int, job: str, queue: str = QUEUE) -> bool:
    return await requeue_job(redis, PROCESS_UPLOAD, (upload_id,), job, queue)


async def requeue_job(
    redis: Any, name: str, args: tuple[Any, ...], job: str, queue: str = QUEUE
) -> bool:
    """Queue the job again. arq refuses a job id it still knows; when that job is not
    waiting in the queue (a worker took it and died before claiming its uploads, so its
    in-progress mark lasts for the job timeout), queue it under a fresh id. The claims in
    the database keep a duplicate harmless."""
    if await redis.enqueue_job(name, *args, _job_id=job, _queue_name=queue):
        return True
    waiting = await redis.zscore(queue, job) is not None
    if waiting and not await redis.exists(in_progress_key_prefix + job):
        return False  # it will run
    fresh = f"{job}:{uuid.uuid4().hex[:8]}"
    log.info("job %s is held by no live worker, queued again as %s", job, fresh)
    return bool(await redis.enqueue_job(name, *args, _job_id=fresh, _queue_name=queue))


async def startup(ctx: WorkerContext) -> None:
    settings: Settings = ctx.get("settings") or get_settings()
    engine = engine_from_settings(settings)
    store = store_from_settings(settings)
    ctx.update(
        worker_context(
            settings,
            session_factory(engine),
            store,
            bus_from_url(settings.redis_url, settings.redis_prefix),
        )
    )
    ctx["engine"] = engine
    await store.ensure_buckets()
    if settings.worker_metrics_port:
        ctx["metrics"] = metrics_server(settings, ctx["redis"])
        await ctx["metrics"].start()
    if settings.gc_tuning:
        settle_heap()


def metrics_server(settings: Settings, redis: Any) -> MetricsServer:
    async def queue() -> Any:
        return await queue_depth(redis, settings.redis_queue)

    return MetricsServer(settings.worker_metrics_host, settings.worker_metrics_port, [queue])


async def shutdown(ctx: WorkerContext) -> None:
    if "metrics" in ctx:
        await ctx["metrics"].close()
    ctx["store"].close()
    await ctx["events"].close()
    await ctx["engine"].dispose()


def worker_settings(settings: Settings) -> dict[str, Any]:
    if not settings.redis_url:
        raise SystemExit(
            "satreps worker needs SATREPS_REDIS_URL (embedded mode processes in `serve`)"
        )
    from workers.access import sweep_access_job
    from workers.embargo import lift_embargoes_job
    from workers.fixity import scheduled_fixity_job
    from workers.notifications import daily_digest_job, deliver_notifications_job
    from workers.publishing import push_pids_job
    from workers.stats import refresh_stats_job

    def named(job: Any) -> str:
        # a unique cron job's arq id is its name and time: the prefix keeps two deployments'
        # crons apart (arq would run one of them only)
        return f"{settings.redis_prefix}cron:{job.__name__}"

    return {
        "functions": [func(cast(WorkerCoroutine, job), name=name) for name, job in JOBS.items()],
        # arq types a job's ctx as a plain dict; ours read it as the WorkerContext it holds
        "cron_jobs": [
            cron(
                cast(WorkerCoroutine, reconcile),
                name=named(reconcile),
                second=set(range(0, 60, 5)),
                run_at_startup=True,
            ),
            # arq runs a cron job once across all workers (its job id is the time)
            cron(
                cast(WorkerCoroutine, lift_embargoes_job),
                name=named(lift_embargoes_job),
                minute=set(range(0, 60, 10)),
                run_at_startup=True,
            ),
            # access requests past their time become EXPIRED, grants ending soon announced
            cron(
                cast(WorkerCoroutine, sweep_access_job),
                name=named(sweep_access_job),
                minute=set(range(5, 60, 10)),
                run_at_startup=True,
            ),
            # scheduled fixity (workers/fixity.py): once a minute, each run reading at most
            # SATREPS_FIXITY_RUN_SECONDS at SATREPS_FIXITY_BYTES_PER_SECOND
            cron(
                cast(WorkerCoroutine, scheduled_fixity_job),
                name=named(scheduled_fixity_job),
                second={45},
                run_at_startup=False,
            ),
            # notifications (workers/notifications.py): the outbox fanned out and the due
            # deliveries sent every two seconds, whatever Redis holds (the database is the
            # queue); the daily digest at SATREPS_DIGEST_HOUR_UTC
            cron(
                cast(WorkerCoroutine, deliver_notifications_job),
                name=named(deliver_notifications_job),
                second=set(range(0, 60, 2)),
                run_at_startup=True,
            ),
            cron(
                cast(WorkerCoroutine, daily_digest_job),
                name=named(daily_digest_job),
                hour={settings.digest_hour_utc},
                minute={0},
                second={15},
                run_at_startup=False,
            ),
            # persistent identifiers (workers/publishing.py): the due ones pushed to DataCite
            cron(
                cast(WorkerCoroutine, push_pids_job),
                name=named(push_pids_job),
                second=set(range(3, 60, 10)),
                run_at_startup=True,
            ),
            # the materialised figures of themeStats (server/analytics.py), once a minute
            cron(
                cast(WorkerCoroutine, refresh_stats_job),
                name=named(refresh_stats_job),
                second={30},
                run_at_startup=True,
            ),
        ],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "queue_name": settings.redis_queue,
        "poll_delay": 0.02,  # FACTS.md: 0.5 s default costs ~270 ms per job start
        "max_jobs": 8,
        "job_timeout": 6 * 3600,  # big files; a killed worker is recovered by the lease
        "keep_result": 60,
        # SIGTERM: take no new job, let running ones finish this long, then cancel them
        # (a cancelled upload job hands its lease back: workers/instrument.py)
        "job_completion_wait": settings.worker_shutdown_grace_seconds,
        "ctx": {"settings": settings},
    }
