"""process_upload: stream the raw object once, derive artifacts, make the file visible.

Runs under arq (`satreps worker`) or in-process (embedded); at least once either way, so it
is idempotent: a lease in the database decides who works on an upload, artifacts of each
attempt get their own keys, and one transaction makes the file, its artifacts and READY
visible together. A killed worker's lease expires within LEASE; the reconciler then
queues the upload again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import math
import os
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access import audit
from server.core.config import work_root
from server.core.db import database_unavailable, utcnow
from server.core.events import upload_channel
from server.core.jobs import JobQueue
from server.datasets.coverage import apply_profile, refresh_version
from server.datasets.errors import DatasetErrorCode
from server.datasets.malware import (
    ScanLimit,
    Scanner,
    ScannerUnavailable,
    ScanStream,
    quarantine_key,
)
from server.datasets.upload_jobs import JobRequest, Waiting, plan_jobs
from server.datasets.upload_states import move
from server.models import Artifact, Dataset, DatasetFile, DatasetVersion, Upload, UploadWarning
from server.models.enums import UploadState
from server.provenance.ingest import record_ingest
from server.storage import ObjectStore, StorageError, safe_key
from workers.context import WorkerContext
from workers.processing import Limits, ProcessingError, ProcessingResult, process_stream
from workers.raw_reads import Known, known_result, readers_source, rest_after

log = logging.getLogger(__name__)
LOST = "lost-lease"  # another worker holds the upload now: nothing written, nothing said
LEASE = dt.timedelta(seconds=20)  # a killed worker's upload runs again within ~25 s
HEARTBEAT = LEASE.total_seconds() / 3
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)
STALE_QUEUED = dt.timedelta(seconds=60)
_PARQUET = "application/vnd.apache.parquet"
_MEDIA = {
    ".parquet": _PARQUET,
    ".json": "application/json",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
MAX_WARNINGS = 100  # per upload; the profile keeps its own counts


async def _announce(ctx: WorkerContext, upload_id: int, state: UploadState) -> None:
    """Tell subscribers to look again (the database holds the state itself)."""
    await announce_many(ctx, [(upload_id, state)])


async def announce_many(ctx: WorkerContext, states: list[tuple[int, UploadState]]) -> None:
    """`_announce` for many uploads, in one round trip to the bus."""
    events = ctx.get("events")
    if events is None or not states:
        return
    messages = [(upload_channel(i), {"uploadId": i, "state": s.value}) for i, s in states]
    try:
        await events.publish_many(messages)
    except Exception:  # an event lost is a refresh missed, never a job failed
        ids = [i for i, _ in states]
        log.warning("could not publish the status of uploads %s", ids[:5], exc_info=True)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def limits_of(ctx: WorkerContext) -> Limits:
    settings = ctx.get("settings")
    if settings is None:
        return Limits()
    return Limits(
        extractor_cpu_seconds=settings.extractor_cpu_seconds,
        extractor_memory_bytes=settings.extractor_memory_mb * 1024 * 1024,
        extractor_wall_seconds=settings.extractor_timeout_seconds,
    )


def lease_of(ctx: WorkerContext) -> dt.timedelta:
    settings = ctx.get("settings")
    return dt.timedelta(seconds=settings.upload_lease_seconds) if settings is not None else LEASE


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    upload_id: int,
    owner: str,
    lease: dt.timedelta = LEASE,
) -> bool:
    """Atomically take a queued upload, or one whose worker's lease ran out."""
    now = utcnow()
    async with sessions() as session:
        result = await session.execute(
            update(Upload)
            .where(
                Upload.id == upload_id,
                or_(
                    Upload.state == UploadState.QUEUED,
                    and_(Upload.state == UploadState.PROCESSING, Upload.lease_expires_at < now),
                ),
            )
            .values(
                state=UploadState.PROCESSING,
                lease_owner=owner,
                lease_expires_at=now + lease,
                attempts=Upload.attempts + 1,
                started_at=now,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
        return bool(getattr(result, "rowcount", 0) == 1)


async def _heartbeat(
    sessions: async_sessionmaker[AsyncSession],
    upload_id: int,
    owner: str,
    lease: dt.timedelta = LEASE,
) -> None:
    every = HEARTBEAT if lease == LEASE else lease.total_seconds() / 3
    while True:
        await asyncio.sleep(every)
        try:
            async with sessions() as session:
                await session.execute(
                    update(Upload)
                    .where(Upload.id == upload_id, Upload.lease_owner == owner)
                    .values(lease_expires_at=utcnow() + lease)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
        except Exception as error:  # a database restart must not end the heartbeat
            if not database_unavailable(error):
                raise
            log.warning("upload %s: heartbeat missed, database unavailable (%s)", upload_id, error)


async def process_upload(ctx: WorkerContext, upload_id: int) -> str:
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    owner = worker_id()
    lease = lease_of(ctx)
    if not await claim(sessions, upload_id, owner, lease):
        return "skipped"  # done, gone, or someone else holds a live lease
    await _announce(ctx, upload_id, UploadState.PROCESSING)
    beat = asyncio.create_task(_heartbeat(sessions, upload_id, owner, lease))
    try:
        outcome = await _run_with_retries(ctx, upload_id, owner)
    finally:
        beat.cancel()
    final = {
        "ready": UploadState.READY,
        "failed": UploadState.FAILED,
        "requeued": UploadState.QUEUED,
        "quarantined": UploadState.QUARANTINED,
    }
    if outcome in final:
        await _announce(ctx, upload_id, final[outcome])
    return outcome


async def _run_with_retries(ctx: WorkerContext, upload_id: int, owner: str) -> str:
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            return await _process_once(ctx, upload_id, owner)
        except (StorageError, DBAPIError, OSError, ScannerUnavailable) as error:
            # clamd unreachable or gone mid-scan: the upload stays PROCESSING through the
            # back-off, then QUEUED for the reconciler; it is never READY unscanned
            if isinstance(error, DBAPIError) and not isinstance(error, OperationalError):
                if not database_unavailable(error):  # a cut connection, a server going down
                    raise
            transient = not isinstance(error, StorageError) or error.transient
            if not transient or delay is None:
                if transient:  # out of patience: the reconciler queues it again later
                    released = await _release(ctx["sessions"], upload_id, owner)
                    return "requeued" if released else LOST
                message = str(error)
                failed = await _finish_failed(
                    ctx["sessions"], upload_id, owner, "STORAGE_ERROR", message
                )
                return "failed" if failed else LOST
            log.warning(
                "upload %s: transient fault (%s), retry %d in %.0fs",
                upload_id,
                error,
                attempt + 1,
                delay,
            )
            await asyncio.sleep(delay)
    return "requeued"


async def _process_once(ctx: WorkerContext, upload_id: int, owner: str) -> str:
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    store: ObjectStore = ctx["store"]
    async with sessions() as session:
        row = (
            await session.execute(
                select(Upload, DatasetVersion, Dataset)
                .join(DatasetVersion, DatasetVersion.id == Upload.version_id)
                .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
                .where(Upload.id == upload_id)
            )
        ).first()
    if row is None:
        return "gone"
    upload, version, dataset = row
    workroot = work_root(ctx["settings"])
    scanner = Scanner(ctx["settings"]) if ctx["settings"].scan_uploads else None
    if scanner is not None:
        await scanner.ping()  # ScannerUnavailable before reading a byte: retried
    with tempfile.TemporaryDirectory(dir=workroot) as work:
        passed = await stream_pass(ctx, upload, Path(work), scanner, owner)
        if passed.error is not None:
            code, message = passed.error
            failed = await _finish_failed(sessions, upload_id, owner, code, message)
            return "failed" if failed else LOST
        if passed.result is None:  # infected: quarantined, or another worker took it
            return "quarantined" if passed.quarantined else LOST
        result = passed.result
        prefix = safe_key(
            "datasets",
            str(dataset.id),
            f"v{version.number}",
            "uploads",
            str(upload.id),
            f"attempt-{upload.attempts}",
        )
        artifacts = await _write_artifacts(store, prefix, result)
    return await _finish_ready(sessions, upload_id, owner, result, artifacts)


@dataclass
class Pass:
    """What the one streaming pass over a raw object made of it: a result, or a failure's
    code and message, or neither (an infected file: `quarantined` says whether it moved)."""

    result: ProcessingResult | None = None
    error: tuple[str, str] | None = None
    quarantined: bool = False


async def stream_pass(
    ctx: WorkerContext, upload: Upload, work: Path, scanner: Scanner | None, owner: str
) -> Pass:
    """Hash, scan and process the raw object in one read (`process_upload` and the batch's
    files alike); an infected file is quarantined here, before anything derived leaves."""
    store: ObjectStore = ctx["store"]
    limits = limits_of(ctx)
    known = Known()
    if scanner is None:  # a scan reads every byte anyway
        try:
            known = await known_result(store, upload, work, limits)
        except ProcessingError as error:
            return Pass(error=(str(error.code), error.message))
        if known.result is not None:
            return Pass(result=known.result)
    reader = await store.open_read(store.buckets.raw, upload.object_key, len(known.head))
    scan = scanner.stream() if scanner is not None else None
    try:
        result = await process_stream(
            _teed(rest_after(known.head, reader), scan),
            filename=upload.filename,
            declared_size=upload.declared_size,
            declared_sha256=upload.declared_sha256,
            workdir=work,
            limits=limits,
            **readers_source(store, upload.object_key, reader.info.etag, limits),
        )
        if scan is not None:  # nothing derived leaves the pass before the verdict
            verdict = await scan.verdict()
            if verdict.infected:
                assert verdict.signature is not None
                key, signature = upload.object_key, verdict.signature
                return Pass(quarantined=await _quarantine(ctx, upload.id, owner, key, signature))
    except (ScanLimit, ProcessingError) as error:
        return Pass(error=(str(error.code), error.message))
    finally:
        if scan is not None:
            await scan.cancel()
        await reader.aclose()
    return Pass(result=result)


async def _teed(reader: AsyncIterator[bytes], scan: ScanStream | None) -> AsyncIterator[bytes]:
    """The raw object's chunks, each handed to clamd too (the one pass reads it once)."""
    async for chunk in reader:
        if scan is not None:
            await scan.feed(chunk)
        yield chunk


async def _quarantine(
    ctx: WorkerContext, upload_id: int, owner: str, key: str, signature: str
) -> bool:
    """Move the infected raw object under the quarantine prefix and end the upload
    QUARANTINED (audited) in one transaction; the original key goes after the commit.
    False when this worker no longer holds the upload (nothing written)."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    store: ObjectStore = ctx["store"]
    bucket, target = store.buckets.raw, quarantine_key(key)
    if not await store.exists(bucket, target):  # a rerun after a lost lease copied it already
        await store.copy(bucket, key, bucket, target)
    async with sessions() as session:
        upload = await _owned(session, upload_id, owner)
        if upload is None:
            return False
        upload.lease_owner = upload.lease_expires_at = None
        upload.object_key = target
        move(
            upload,
            UploadState.QUARANTINED,
            code=DatasetErrorCode.MALWARE_FOUND,
            message=f"ClamAV found {signature}",
            signature=signature,
        )
        await audit.record(
            session,
            audit.event(
                None,
                "upload.quarantine",
                target_type="Upload",  # the model's name, as the mutations' rows give it
                target_id=upload.id,
                outcome=audit.REJECTED,
                code=DatasetErrorCode.MALWARE_FOUND,
                detail={"signature": signature, "key": key, "quarantineKey": target},
            ),
        )
        await record_ingest(session, upload, outcome="failed", error_code="MALWARE_FOUND")
        await session.commit()
    log.warning("upload %s: ClamAV found %s; quarantined as %s", upload_id, signature, target)
    try:
        await store.discard_quarantined(bucket, key)
    except StorageError:  # no row names the original any more; it is left, never served
        log.exception("upload %s: could not delete the infected original %s", upload_id, key)
    return True


async def _write_artifacts(
    store: ObjectStore, prefix: str, result: ProcessingResult
) -> list[dict[str, Any]]:
    bucket = store.buckets.artifacts
    written: list[dict[str, Any]] = []

    async def put(kind: str, name: str, data: Any, media_type: str) -> None:
        info = await store.put(bucket, f"{prefix}/{name}", data, content_type=media_type)
        written.append(
            {
                "kind": kind,
                "bucket": bucket,
                "key": info.key,
                "size": info.size,
                "sha256": info.sha256 or "",
                "media_type": media_type,
            }
        )

    if result.parquet_path is not None:
        await put("parquet", "data.parquet", result.parquet_path, _PARQUET)
    if result.preview is not None:
        body = json.dumps(result.preview, ensure_ascii=False, default=str).encode()
        await put("preview", "preview.json", body, "application/json")
    for kind, name, data in result.extra_artifacts:
        await put(kind, name, data, _MEDIA[PurePath(name).suffix])
    if result.profile is not None:
        body = json.dumps(result.profile, ensure_ascii=False, default=str).encode()
        await put("profile", "profile.json", body, "application/json")
    return written


async def _owned(session: AsyncSession, upload_id: int, owner: str) -> Upload | None:
    upload = await session.scalar(select(Upload).where(Upload.id == upload_id).with_for_update())
    if upload is None or upload.lease_owner != owner or upload.state != UploadState.PROCESSING:
        return None  # the lease moved on: another worker owns the outcome
    return upload


def file_of(upload: Upload, result: ProcessingResult) -> DatasetFile:
    """The READY file's row of an upload processed into `result`, its profile applied
    (format details, coverage columns); the caller adds it."""
    file = DatasetFile(
        version_id=upload.version_id,
        upload_id=upload.id,
        name=upload.filename,
        path=upload.path,
        path_key=upload.path_key,
        size=result.size,
        sha256=result.sha256,
        media_type=result.format.media_type,
        format=result.format.kind,
        raw_key=upload.object_key,
        profile=result.profile,
    )
    apply_profile(file)
    return file


async def _finish_ready(
    sessions: async_sessionmaker[AsyncSession],
    upload_id: int,
    owner: str,
    result: ProcessingResult,
    artifacts: list[dict[str, Any]],
) -> str:
    async with sessions() as session:
        upload = await _owned(session, upload_id, owner)
        if upload is None:
            return LOST
        # the version's row is locked before the file's row is written: the insert's foreign
        # key takes a share lock on it, and two files of one version finishing at once would
        # each hold that share and wait for the other's to take the lock (a deadlock on
        # PostgreSQL); locked first, they take turns, and the coverage below counts both
        version = await session.get(DatasetVersion, upload.version_id, with_for_update=True)
        file = file_of(upload, result)
        session.add(file)
        await session.flush()
        # the version's and the dataset's coverage take the file's in
        if version is not None:
            await refresh_version(session, version)
        rows = [Artifact(file_id=file.id, **a) for a in artifacts]
        session.add_all(rows)
        await _store_warnings(session, upload.id, result)
        upload.size, upload.sha256 = result.size, result.sha256
        upload.detected_format, upload.media_type = result.format.kind, result.format.media_type
        upload.lease_owner = upload.lease_expires_at = None
        move(upload, UploadState.READY)
        await session.flush()
        # PROV in the same transaction: the ingest activity exists once, iff READY does
        await record_ingest(
            session, upload, outcome="ready", result=result, file=file, artifacts=rows
        )
        await session.commit()
    return "ready"


async def _store_warnings(session: AsyncSession, upload_id: int, result: ProcessingResult) -> None:
    """The warnings of this attempt, replacing any of an earlier one."""
    await session.execute(delete(UploadWarning).where(UploadWarning.upload_id == upload_id))
    for position, notice in enumerate(result.warnings[:MAX_WARNINGS]):
        session.add(
            UploadWarning(
                upload_id=upload_id,
                position=position,
                code=notice.code,
                message=notice.message[:2000],
            )
        )


async def _finish_failed(
    sessions: async_sessionmaker[AsyncSession], upload_id: int, owner: str, code: str, message: str
) -> bool:
    """End the upload FAILED; False when this worker no longer holds it (nothing written)."""
    async with sessions() as session:
        upload = await _owned(session, upload_id, owner)
        if upload is None:
            return False
        upload.lease_owner = upload.lease_expires_at = None
        move(upload, UploadState.FAILED, code=code, message=message[:2000])
        await record_ingest(session, upload, outcome="failed", error_code=code)
        await session.commit()
    return True


async def _release(sessions: async_sessionmaker[AsyncSession], upload_id: int, owner: str) -> bool:
    """Hand the upload back QUEUED; False when this worker no longer holds it."""
    async with sessions() as session:
        upload = await _owned(session, upload_id, owner)
        if upload is None:
            return False
        upload.lease_owner = upload.lease_expires_at = None
        move(upload, UploadState.QUEUED)
        await session.commit()
    return True


def _waiting(stale_queued: dt.timedelta) -> Any:
    now = utcnow()
    return or_(
        and_(Upload.state == UploadState.QUEUED, Upload.queued_at < now - stale_queued),
        and_(Upload.state == UploadState.PROCESSING, Upload.lease_expires_at < now),
    )


async def waiting_uploads(
    sessions: async_sessionmaker[AsyncSession], stale_queued: dt.timedelta = STALE_QUEUED
) -> list[tuple[int, int]]:
    """(id, attempts) of uploads the database says should be worked on and are not:
    queued for a while, or processing under an expired lease."""
    async with sessions() as session:
        rows = await session.execute(
            select(Upload.id, Upload.attempts).where(_waiting(stale_queued))
        )
        return [(upload_id, attempts) for upload_id, attempts in rows]


async def waiting_jobs(
    sessions: async_sessionmaker[AsyncSession],
    stale_queued: dt.timedelta = STALE_QUEUED,
    *,
    max_bytes: int = 0,
    per_batch: int = 1,
) -> list[JobRequest]:
    """The jobs for the waiting uploads, planned as completeUploads plans them (small ones
    of a version in batches): a batch queued again has the id it was queued with, when it
    holds the same uploads, and arq runs it once."""
    async with sessions() as session:
        rows = await session.execute(
            select(
                Upload.id,
                Upload.version_id,
                func.coalesce(Upload.size, Upload.declared_size),
                Upload.attempts,
            ).where(_waiting(stale_queued))
        )
        waiting = [Waiting(*row) for row in rows]
    return plan_jobs(waiting, max_bytes=max_bytes, per_batch=per_batch)


def job_id(upload_id: int, attempts: int) -> str:
    return f"process_upload:{upload_id}:{attempts}"


async def reconcile_forever(
    sessions: async_sessionmaker[AsyncSession],
    jobs: JobQueue,
    every: float = 5.0,
    stale_queued: dt.timedelta = STALE_QUEUED,
    *,
    max_bytes: int = 0,
    per_batch: int = 1,
) -> None:
    """Embedded mode's reconciler: the same rule as the arq cron in workers/main.py; it also
    lifts embargoes that have ended (the embargo cron of workers/main.py), sweeps access
    requests and grants once a minute (the access cron, workers/access.py) and rebuilds the
    materialised figures of themeStats (the stats cron) once a minute when their sources
    changed (server.analytics.stats_fingerprint)."""
    from server.access_requests.service import sweep
    from server.analytics import STATS_REFRESH_SECONDS, refresh_stats, stats_fingerprint
    from server.datasets.embargo import lift_embargoes

    last_refresh, built_from, last_sweep = -math.inf, None, -math.inf
    while True:
        try:
            planned = await waiting_jobs(
                sessions, stale_queued, max_bytes=max_bytes, per_batch=per_batch
            )
            for job in planned:
                await jobs.enqueue(job.name, *job.args, job_id=job.job_id)
            await lift_embargoes(sessions)
            if time.monotonic() - last_sweep >= 60:
                await sweep(sessions)
                last_sweep = time.monotonic()
            if time.monotonic() - last_refresh >= STATS_REFRESH_SECONDS:
                async with sessions() as session:
                    now = await stats_fingerprint(session)
                    if built_from is None and (now[-1] or not now[0]):
                        built_from = now  # refreshed by an earlier run, or nothing to build
                    if now != built_from:
                        await refresh_stats(session)
                        await session.commit()
                        now = await stats_fingerprint(session)
                built_from, last_refresh = now, time.monotonic()
        except Exception:  # keep reconciling; the next round retries
            log.exception("reconcile failed")
        await asyncio.sleep(every)
