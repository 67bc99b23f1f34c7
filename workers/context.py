"""What a job function receives as `ctx`, built in one place (worker_context) for the three
runners: the arq worker's startup (workers/main.py), the API's in-process runner when
embedded (server/http/app.py) and the tests (tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from typing import TypedDict

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.events import EventBus
from server.core.jobs import JobQueue
from server.core.metrics import MetricsServer
from server.provenance.fixity_schedule import TokenBucket
from server.search.documents import install as index_search_documents
from server.storage import ObjectStore


class WorkerContext(TypedDict, total=False):
    """Every key may be missing (total=False): arq hands its own dict, filled by the worker's
    startup; a job reads with .get() what one runner does not give (events, redis, jobs)."""

    # the process's services: worker_context()
    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    events: EventBus
    # the arq worker's own, for its shutdown
    engine: AsyncEngine
    metrics: MetricsServer
    # per job: arq gives its pool (redis), the job's id, try and enqueue time; the
    # in-process runner gives itself (jobs), so a job can queue follow-ups, and the job's id
    redis: ArqRedis
    jobs: JobQueue
    job_id: str
    job_try: int
    enqueue_time: dt.datetime
    # the scheduled fixity check's rate, kept for the process (workers/fixity.py)
    fixity_bucket: TokenBucket


def worker_context(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    events: EventBus | None = None,
) -> WorkerContext:
    index_search_documents()  # the files' profiles a job writes are searched (migration 0016)
    ctx = WorkerContext(settings=settings, sessions=sessions, store=store)
    if events is not None:
        ctx["events"] = events
    return ctx


def can_queue(ctx: WorkerContext) -> bool:
    """Whether the job can queue follow-ups (an arq worker's pool, or the in-process
    runner)."""
    return ctx.get("redis") is not None or ctx.get("jobs") is not None


async def queue_follow_up(
    ctx: WorkerContext, name: str, *args: object, job_id: str, defer: float = 0.0
) -> None:
    """Queue `name(*args)` from inside a job, into the runner that runs it: an arq worker's
    own queue (the id under the deployment's prefix, as ArqJobs names it) or the in-process
    runner. Nothing without either."""
    redis, jobs = ctx.get("redis"), ctx.get("jobs")
    if redis is not None:
        prefixed = ctx["settings"].redis_prefix + job_id
        await redis.enqueue_job(name, *args, _job_id=prefixed, _defer_by=defer or None)
    elif jobs is not None:
        await jobs.enqueue(name, *args, job_id=job_id, defer_seconds=defer)
