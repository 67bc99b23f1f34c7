"""process_batch: many small uploads of one version in one job (issue 23).

Each file is read, processed and its artifacts written as `process_upload` does (the same
streaming pass, scan and keys); then one transaction commits them all, with one PROV
ingest activity for the batch, each file still its own entity, its own state and its own
error. One bad file does not hold the others back:

- a file the pipeline refuses (ProcessingError, a scan limit, a permanent storage fault)
  ends FAILED with its code, in the batch's transaction;
- a file whose rows the database refuses is written in a savepoint of its own, rolled back
  alone, and ends FAILED (CONFLICT);
- a file that meets a transient fault (storage, clamd) is handed back QUEUED and queued
  alone, with `process_upload`'s patience; an infected one is quarantined alone.

Crash and retry: each upload is claimed with its own lease (claimed together, renewed
together). A batch run again (arq runs a job at least once) claims only what is still
QUEUED or whose lease ran out: a READY file is skipped, never recorded twice. A killed
worker's uploads return through the reconciler, like any other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import work_root
from server.core.db import database_unavailable, insert_returning, utcnow
from server.core.errors import ErrorCode
from server.core.jobs import PROCESS_UPLOAD
from server.datasets.coverage import box_of_row, period_of_row, refresh_version
from server.datasets.malware import Scanner, ScannerUnavailable
from server.datasets.upload_jobs import upload_job_id
from server.datasets.upload_states import move
from server.models import Artifact, Dataset, DatasetFile, DatasetVersion, Upload, UploadWarning
from server.models.enums import UploadState
from server.provenance.ingest import Ingested, record_batch_ingest
from server.storage import ObjectStore, StorageError, safe_key
from workers.context import WorkerContext, queue_follow_up
from workers.instrument import process_prefix, release_lease
from workers.pipeline import (
    MAX_WARNINGS,
    RETRY_DELAYS,
    _write_artifacts,
    announce_many,
    file_of,
    lease_of,
    stream_pass,
    worker_id,
)
from workers.processing import ProcessingResult
from workers.provenance import schedule_copies

log = logging.getLogger(__name__)
FILES_AT_ONCE = 4  # files of one batch read at once (their object-store round trips overlap)


@dataclass
class Outcome:
    """One file of the batch after its streaming pass, before the commit."""

    upload: Upload
    result: ProcessingResult | None = None
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    error: tuple[str, str] | None = None  # (code, message): FAILED
    handed_back: bool = False  # a transient fault: QUEUED again, queued alone
    quarantined: bool = False
    state: str = "lost"  # after the commit: ready, failed, requeued, quarantined, lost


async def claim_many(
    sessions: async_sessionmaker[AsyncSession],
    upload_ids: list[int],
    owner: str,
    lease: dt.timedelta,
) -> list[int]:
    """Take those of the uploads that are QUEUED, or whose worker's lease ran out, in one
    statement; the ids taken."""
    now = utcnow()
    async with sessions() as session:
        rows = await session.execute(
            update(Upload)
            .where(
                Upload.id.in_(upload_ids),
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
            .returning(Upload.id)
            .execution_options(synchronize_session=False)
        )
        claimed = sorted(rows.scalars().all())
        await session.commit()
    return claimed


async def _heartbeat(
    sessions: async_sessionmaker[AsyncSession], ids: list[int], owner: str, lease: dt.timedelta
) -> None:
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        try:
            async with sessions() as session:
                await session.execute(
                    update(Upload)
                    .where(Upload.id.in_(ids), Upload.lease_owner == owner)
                    .values(lease_expires_at=utcnow() + lease)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
        except Exception as error:  # a database restart must not end the heartbeat
            if not database_unavailable(error):
                raise
            log.warning("batch %s: heartbeat missed, database unavailable (%s)", ids[:3], error)


async def process_batch(ctx: WorkerContext, upload_ids: list[int]) -> str:
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    owner, lease = worker_id(), lease_of(ctx)
    claimed = await claim_many(sessions, [int(i) for i in upload_ids], owner, lease)
    if not claimed:
        return "skipped"  # done, gone, or held by live leases
    started = utcnow()
    await announce_many(ctx, [(i, UploadState.PROCESSING) for i in claimed])
    beat = asyncio.create_task(_heartbeat(sessions, claimed, owner, lease))
    try:
        outcomes = await _process_all(ctx, claimed, owner)
        await _commit_with_retries(ctx, owner, outcomes, started)
    finally:
        beat.cancel()
    return await _after_commit(ctx, outcomes)


async def _process_all(ctx: WorkerContext, ids: list[int], owner: str) -> list[Outcome]:
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Upload, DatasetVersion, Dataset)
                .join(DatasetVersion, DatasetVersion.id == Upload.version_id)
                .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
                .where(Upload.id.in_(ids))
                .order_by(Upload.id)
            )
        ).all()
    settings = ctx["settings"]
    scanner = Scanner(settings) if settings.scan_uploads else None
    gate = asyncio.Semaphore(FILES_AT_ONCE)

    async def one(
        upload: Upload, version: DatasetVersion, dataset: Dataset, batch_work: Path
    ) -> Outcome:
        outcome = Outcome(upload)
        # the file's scratch directory, made only by a reader that spools (most small files
        # need none: a directory made and removed per file cost a batch two inode changes a
        # file) and removed with what it holds once the file is through
        work = batch_work / str(upload.id)
        async with gate:
            try:
                await _process_one(ctx, outcome, version, dataset, scanner, work, owner)
            except (StorageError, OSError, ScannerUnavailable) as error:
                if isinstance(error, StorageError) and not error.transient:
                    outcome.error = ("STORAGE_ERROR", str(error))
                else:
                    log.warning("upload %s: transient fault in a batch (%s)", upload.id, error)
                    outcome.handed_back = True
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
        return outcome

    with tempfile.TemporaryDirectory(dir=work_root(settings)) as batch_work:
        return list(await asyncio.gather(*(one(*row, Path(batch_work)) for row in rows)))


async def _process_one(
    ctx: WorkerContext,
    outcome: Outcome,
    version: DatasetVersion,
    dataset: Dataset,
    scanner: Scanner | None,
    work: Path,
    owner: str,
) -> None:
    """The streaming pass and the artifacts of one file (as `process_upload` does), its
    scratch files under `work` (made by the reader that needs it)."""
    store: ObjectStore = ctx["store"]
    upload = outcome.upload
    if scanner is not None:
        await scanner.ping()
    passed = await stream_pass(ctx, upload, work, scanner, owner)
    if passed.error is not None:
        outcome.error = passed.error
        return
    if passed.result is None:
        outcome.quarantined = True
        outcome.state = "quarantined" if passed.quarantined else "lost"
        return
    result = passed.result
    prefix = safe_key(
        "datasets",
        str(dataset.id),
        f"v{version.number}",
        "uploads",
        str(upload.id),
        f"attempt-{upload.attempts}",
    )
    outcome.result = result
    outcome.artifacts = await _write_artifacts(store, prefix, result)


async def _commit_with_retries(
    ctx: WorkerContext, owner: str, outcomes: list[Outcome], started: dt.datetime
) -> None:
    """The batch's transaction, tried again while the database is away; out of patience,
    the leases run out and the reconciler queues the uploads again."""
    for attempt, delay in enumerate((*RETRY_DELAYS, None)):
        try:
            await _commit(ctx, owner, outcomes, started)
            return
        except DBAPIError as error:
            if not isinstance(error, OperationalError) and not database_unavailable(error):
                raise
            if delay is None:  # the reconciler queues them again once the leases end
                for outcome in outcomes:
                    if not outcome.quarantined:
                        outcome.state = "waiting"
                return
            log.warning(
                "batch: database unavailable (%s), retry %d in %.0fs", error, attempt, delay
            )
            await asyncio.sleep(delay)


async def _commit(
    ctx: WorkerContext, owner: str, outcomes: list[Outcome], started: dt.datetime
) -> None:
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    pending = [o for o in outcomes if not o.quarantined]
    if not pending:
        return
    async with sessions() as session:
        # versions first, then uploads (process_upload's order: no deadlock between them)
        versions = {}
        for version_id in sorted({o.upload.version_id for o in pending}):
            versions[version_id] = await session.get(
                DatasetVersion, version_id, with_for_update=True
            )
        owned = {
            u.id: u
            for u in await session.scalars(
                select(Upload)
                .where(Upload.id.in_([o.upload.id for o in pending]))
                .order_by(Upload.id)
                .with_for_update()
            )
            if u.lease_owner == owner and u.state == UploadState.PROCESSING
        }
        await session.execute(  # an earlier attempt's warnings, replaced
            delete(UploadWarning).where(UploadWarning.upload_id.in_(list(owned)))
        )
        mine = []
        for outcome in pending:
            upload = owned.get(outcome.upload.id)
            if upload is None:
                outcome.state = "lost"  # another worker holds it now: nothing written
                continue
            outcome.upload = upload
            upload.lease_owner = upload.lease_expires_at = None
            mine.append(outcome)
        ready = [o for o in mine if o.error is None and not o.handed_back and o.result]
        together = await _write_together(session, ready)
        done: dict[int, Ingested] = {}
        if together is not None:
            done.update(together)
        else:  # the database refused one of them: each alone, in a savepoint of its own
            for outcome in ready:
                await session.refresh(outcome.upload)
                outcome.upload.lease_owner = outcome.upload.lease_expires_at = None
        recorded: dict[int, list[Ingested]] = {}
        covered: set[int] = set()
        for outcome in mine:
            upload = outcome.upload
            ingested = done.get(upload.id)
            if ingested is not None:
                outcome.state = "ready"
            else:
                ingested = await _write_one(session, outcome)
            if ingested is not None:
                recorded.setdefault(upload.version_id, []).append(ingested)
                file = ingested.file
                if file is not None and (box_of_row(file) or period_of_row(file)):
                    covered.add(upload.version_id)
        for version_id in sorted(covered):  # a file without coverage changes no union
            version = versions[version_id]
            if version is not None:
                await refresh_version(session, version)
        key = uuid.uuid4().hex
        for version_id, files in recorded.items():
            await record_batch_ingest(
                session, version_id, files, key=f"{key}-{version_id}", started_at=started
            )
        await session.commit()


async def _write_together(
    session: AsyncSession, ready: list[Outcome]
) -> dict[int, Ingested] | None:
    """The rows of every READY file in one savepoint: the files and their artifacts each in
    one INSERT ... RETURNING, the rest in one flush; None, with nothing written, when the
    database refuses any of them."""
    if not ready:
        return {}
    savepoint = await session.begin_nested()
    files: list[DatasetFile] = []
    artifacts: list[Artifact] = []
    try:
        made = [file_of(o.upload, o.result) for o in ready if o.result is not None]
        files = await insert_returning(session, made, DatasetFile.upload_id)
        pairs = list(zip(ready, files, strict=True))
        new = [Artifact(file_id=f.id, **a) for o, f in pairs for a in o.artifacts]
        artifacts = await insert_returning(session, new, Artifact.file_id, Artifact.kind)
        of_file: dict[int, list[Artifact]] = {}
        for artifact in artifacts:
            of_file.setdefault(artifact.file_id, []).append(artifact)
        done = {}
        for outcome, file in pairs:
            assert outcome.result is not None
            done[outcome.upload.id] = _ready(
                session, outcome.upload, outcome.result, file, of_file.get(file.id, [])
            )
        await session.flush()
        await savepoint.commit()
        return done
    except IntegrityError as error:
        await savepoint.rollback()
        for row in (*files, *artifacts):  # inserted by statement: not the savepoint's to drop
            if row in session:
                session.expunge(row)
        log.warning("a batch's rows were refused (%s): each file alone", error.orig)
        return None


async def _write_one(session: AsyncSession, outcome: Outcome) -> Ingested | None:
    """One file's rows, in a savepoint of its own; what PROV records of it (None when it
    was handed back)."""
    upload = outcome.upload
    if outcome.handed_back:
        move(upload, UploadState.QUEUED)
        outcome.state = "requeued"
        return None
    if outcome.error is None and outcome.result is not None:
        savepoint = await session.begin_nested()
        try:
            ingested = await _write_ready(session, upload, outcome.result, outcome.artifacts)
            await savepoint.commit()
            outcome.state = "ready"
            return ingested
        except IntegrityError as error:
            await savepoint.rollback()
            await session.refresh(upload)
            upload.lease_owner = upload.lease_expires_at = None
            log.warning("upload %s: its rows were refused (%s)", upload.id, error.orig)
            outcome.error = (ErrorCode.CONFLICT, "conflicts with the version's files")
    assert outcome.error is not None
    code, message = outcome.error
    move(upload, UploadState.FAILED, code=code, message=message[:2000])
    outcome.state = "failed"
    return Ingested(upload, "failed", error_code=code)


async def _write_ready(
    session: AsyncSession, upload: Upload, result: ProcessingResult, written: list[dict[str, Any]]
) -> Ingested:
    file = file_of(upload, result)
    session.add(file)
    await session.flush()
    artifacts = [Artifact(file_id=file.id, **a) for a in written]
    session.add_all(artifacts)
    ingested = _ready(session, upload, result, file, artifacts)
    await session.flush()
    return ingested


def _ready(
    session: AsyncSession,
    upload: Upload,
    result: ProcessingResult,
    file: DatasetFile,
    artifacts: list[Artifact],
) -> Ingested:
    """The file's warnings (the file has its id, its artifacts are in the session), the
    upload READY."""
    session.add_all(
        UploadWarning(upload_id=upload.id, position=i, code=n.code, message=n.message[:2000])
        for i, n in enumerate(result.warnings[:MAX_WARNINGS])
    )
    upload.size, upload.sha256 = result.size, result.sha256
    upload.detected_format, upload.media_type = result.format.kind, result.format.media_type
    move(upload, UploadState.READY)
    return Ingested(upload, "ready", result=result, file=file, artifacts=artifacts)


async def _discard_artifacts(store: ObjectStore, outcomes: list[Outcome]) -> None:
    """Artifacts written for files that did not become READY: no row names them."""
    for outcome in outcomes:
        if outcome.state == "ready":
            continue
        for artifact in outcome.artifacts:
            try:
                await store.delete(artifact["bucket"], artifact["key"])
            except StorageError:
                log.warning("could not delete the unused artifact %s", artifact["key"])


async def _after_commit(ctx: WorkerContext, outcomes: list[Outcome]) -> str:
    """Tell subscribers, queue the handed-back files alone, discard unused artifacts."""
    await _discard_artifacts(ctx["store"], outcomes)
    final = {
        "ready": UploadState.READY,
        "failed": UploadState.FAILED,
        "requeued": UploadState.QUEUED,
        "quarantined": UploadState.QUARANTINED,
    }
    await announce_many(ctx, [(o.upload.id, final[o.state]) for o in outcomes if o.state in final])
    for outcome in outcomes:
        if outcome.handed_back and outcome.state == "requeued":
            await _queue_alone(ctx, outcome.upload)
    ended = ("ready", "failed", "quarantined")  # the last of a version writes the copies
    versions = {o.upload.version_id for o in outcomes if o.state in ended}
    for version_id in sorted(versions):
        try:
            await schedule_copies(ctx, version_id)
        except Exception:  # the database keeps the record; a later READY writes them
            log.warning("provenance copies of version %s not written", version_id, exc_info=True)
    states = [o.state for o in outcomes]
    log.info("batch of %d: %s", len(states), {s: states.count(s) for s in sorted(set(states))})
    return "done"


async def hand_back_batch(ctx: WorkerContext, args: tuple[Any, ...]) -> None:
    """A cancelled batch (the worker stopping): this process's leases on its uploads are
    given back, QUEUED again for any worker."""
    for upload_id in args[0]:
        await release_lease(ctx["sessions"], int(upload_id), process_prefix())


async def _queue_alone(ctx: WorkerContext, upload: Upload) -> None:
    job = upload_job_id(upload.id, upload.attempts)
    try:
        await queue_follow_up(ctx, PROCESS_UPLOAD, upload.id, job_id=job)
    except Exception:  # the reconciler queues it once it has waited a while
        log.warning("upload %s: could not queue it alone", upload.id, exc_info=True)
