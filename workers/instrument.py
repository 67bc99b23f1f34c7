"""Around every job: its metrics (duration by outcome, wait in the queue, in progress), its id
in every log line it writes, and a clean hand-back when the worker stops it.

A worker stopping on SIGTERM lets running jobs finish for
SATREPS_WORKER_SHUTDOWN_GRACE_SECONDS, then cancels them. A cancelled upload job gives its
lease back at once (the upload returns to QUEUED) and arq leaves the job in its queue, so
another worker takes it straight away instead of waiting for the lease to expire.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.jobs import JobFunction
from server.core.logs import job_id_var
from server.core.metrics import JOB_DURATION, JOB_WAIT, JOBS_RUNNING
from server.datasets.upload_states import move
from server.models import Upload
from server.models.enums import UploadState
from workers.context import WorkerContext

log = logging.getLogger(__name__)
OnCancel = Callable[[WorkerContext, tuple[Any, ...]], Awaitable[None]]


def process_prefix() -> str:
    """The start of every lease owner this process writes (workers/pipeline.py worker_id)."""
    return f"{socket.gethostname()}:{os.getpid()}:"


def instrumented(name: str, job: JobFunction, on_cancel: OnCancel | None = None) -> JobFunction:
    async def run(ctx: WorkerContext, *args: Any) -> Any:
        job_id_var.set(ctx.get("job_id"))
        enqueued = ctx.get("enqueue_time")
        if isinstance(enqueued, dt.datetime):
            waited = (dt.datetime.now(dt.UTC) - enqueued).total_seconds()
            JOB_WAIT.labels(name).observe(max(0.0, waited))
        running = JOBS_RUNNING.labels(name)
        running.inc()
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await job(ctx, *args)
            outcome = result if isinstance(result, str) else "done"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            if on_cancel is not None:
                await asyncio.shield(on_cancel(ctx, args))
                outcome = "handed_back"
            raise
        finally:
            running.dec()
            JOB_DURATION.labels(name, outcome).observe(time.perf_counter() - started)

    run.__name__ = run.__qualname__ = name
    return run


async def hand_back_upload(ctx: WorkerContext, args: tuple[Any, ...]) -> None:
    """Release this process's lease on the upload: QUEUED again, for any worker."""
    upload_id = int(args[0])
    released = await release_lease(ctx["sessions"], upload_id, process_prefix())
    if released:
        log.info("upload %s handed back (worker stopping)", upload_id)


async def release_lease(
    sessions: async_sessionmaker[AsyncSession], upload_id: int, owner_prefix: str
) -> bool:
    try:
        async with sessions() as session:
            upload = await session.scalar(
                select(Upload).where(Upload.id == upload_id).with_for_update()
            )
            if (
                upload is None
                or upload.state != UploadState.PROCESSING
                or not (upload.lease_owner or "").startswith(owner_prefix)
            ):
                return False  # finished, or another worker's: nothing of ours to give back
            upload.lease_owner = upload.lease_expires_at = None
            move(upload, UploadState.QUEUED)
            await session.commit()
            return True
    except Exception:  # the lease then simply expires; the reconciler takes it from there
        log.warning("could not hand back upload %s", upload_id, exc_info=True)
        return False
