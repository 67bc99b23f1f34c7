"""Provenance jobs: the bucket copies of a version's PROV and RO-Crate (fixity checks:
workers/fixity.py).

The PROV records themselves are written by the pipeline inside the transaction that commits
READY or FAILED; these jobs only read them. All are safe to run twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.db import utcnow
from server.core.jobs import WRITE_PROVENANCE
from server.models import Upload
from server.models.enums import UploadState
from server.provenance.export import write_copies
from server.storage import ObjectStore
from workers.context import WorkerContext, can_queue, queue_follow_up
from workers.pipeline import process_upload

log = logging.getLogger(__name__)


async def write_provenance(
    ctx: WorkerContext, version_id: int, quiet_since: str | None = None, *, busy_too: bool = False
) -> str:
    """The version's copies in the bucket, once the version is quiet, unless `busy_too`.

    Each rewrite reads the whole version, so a folder of thousands of files must not have
    the worker rewrite it again and again instead of processing the files:
    - while an upload of the version is QUEUED or PROCESSING: "deferred"; the upload that
      ends last queues the rewrite that holds them all (schedule_copies, after READY, FAILED
      or QUARANTINED);
    - while an upload of the version changed state within the last window (a client still
      sending a folder, whose queue drained for a moment between two completions):
      "postponed", queued again to run one window after that change, under an id named by
      it, so every job that sees the same last change queues the same one. That job
      (`quiet_since` = the change it waited for) writes if nothing changed since, whatever
      the clocks say. The copies follow within a window or two of the version's last change.
    Without a queue (or with a window of 0) they are written at once."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    store: ObjectStore = ctx["store"]
    window = float(ctx["settings"].prov_copy_window_seconds)
    async with sessions() as session:
        if not busy_too:
            if await session.scalar(
                select(Upload.id)
                .where(
                    Upload.version_id == version_id,
                    Upload.state.in_([UploadState.QUEUED, UploadState.PROCESSING]),
                )
                .limit(1)
            ):
                return "deferred"
            if window > 0 and can_queue(ctx):
                last = await session.scalar(
                    select(func.max(Upload.updated_at)).where(Upload.version_id == version_id)
                )
                if (
                    last is not None
                    and utcnow() - last < dt.timedelta(seconds=window)
                    and last.isoformat() != quiet_since
                ):
                    await _postpone(ctx, version_id, last, window)
                    return "postponed"
        keys = await write_copies(
            session, store, version_id, namespace=ctx["settings"].prov_namespace
        )
    return "written" if keys else "gone"


async def _postpone(ctx: WorkerContext, version_id: int, last: dt.datetime, window: float) -> None:
    stamp = last.isoformat()
    job_id = f"{WRITE_PROVENANCE}:{version_id}:q{int(last.timestamp() * 1_000_000)}"
    defer = max((last - utcnow()).total_seconds() + window, 0.0)
    await queue_follow_up(ctx, WRITE_PROVENANCE, version_id, stamp, job_id=job_id, defer=defer)


async def process_upload_with_provenance(ctx: WorkerContext, upload_id: int) -> str:
    """process_upload, then (once READY is committed) a rewrite of the version's copies in
    the bucket, coalesced: see `schedule_copies`. A copy that cannot be written is logged:
    the database keeps the record, and the next READY, publication or fixity check writes
    it again."""
    outcome = await process_upload(ctx, upload_id)
    if outcome in ("ready", "failed", "quarantined"):  # the last of a version writes them
        async with ctx["sessions"]() as session:
            version_id = await session.scalar(
                select(Upload.version_id).where(Upload.id == upload_id)
            )
        if version_id is not None:
            try:
                await schedule_copies(ctx, version_id)
            except Exception:
                log.warning(
                    "provenance copies of version %s not written", version_id, exc_info=True
                )
    return outcome


async def schedule_copies(ctx: WorkerContext, version_id: int) -> None:
    """One rewrite of a version's copies per time window, not one per READY upload.

    Each rewrite reads the whole version, so rewriting after every upload of a
    many-file version costs quadratic time (measured: 200 small files into one version went
    from 16 to 1 job/s). Time is cut into windows of `prov_copy_window_seconds`; a READY
    in window w queues the job `write_provenance:<version>:w`, deferred to the end of w.
    Every READY of w committed before it queued, and the job starts after w ended, so it
    reads them all; later READYs fall into a later window and queue their own job. Without
    a queue in ctx (or a window of 0) the copies are written at once."""
    window = float(ctx["settings"].prov_copy_window_seconds)
    if window <= 0 or not can_queue(ctx):
        await write_provenance(ctx, version_id, busy_too=True)
        return
    now = time.time()
    slot = int(now // window)
    defer = (slot + 1) * window - now
    job_id = f"{WRITE_PROVENANCE}:{version_id}:w{slot}"
    await queue_follow_up(ctx, WRITE_PROVENANCE, version_id, job_id=job_id, defer=defer)
