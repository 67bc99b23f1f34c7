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
