"""Fixity checks: re-hash raw objects and record each outcome, in the database (the file's
latest check on `dataset_files`, every check in `fixity_checks`) and as a PROV activity.

The bytes are read outside any transaction (a check of large files takes minutes); the
outcomes are written in one short transaction at the end. A run is keyed by its run id, so a
job that runs twice records one activity per version. A raw object named by several files
(a new draft carries its files over) is read once and recorded for every file naming it.
Failures are audited in the same transaction; `fixity_events` gives the events to publish
once it committed. `fixity_schedule` decides what to check when, at what rate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access import audit
from server.core.db import utcnow
from server.models import DatasetFile, DatasetVersion, FixityCheck, Upload
from server.models.enums import FixityOutcome
from server.models.provenance import ProvKind
from server.provenance import records
from server.provenance.ingest import record_upload
from server.provenance.records import R
from server.storage import ObjectNotFound, ObjectStore

FIXITY_FAILED = "FIXITY_FAILED"  # the audit code of a failed check (DatasetErrorCode's)
Throttle = Callable[[int], Awaitable[None]]  # waits until n more bytes may be read


@dataclass
class FixityReport:
    version_id: int
    run_id: str
    outcome: str  # ok | mismatch | missing | gone (no such version)
    results: dict[str, str] = field(default_factory=dict)  # file name -> ok, reason

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class FixityFailure:
    """A file whose raw object failed its check: what `fixity_events` announces."""

    dataset_id: int
    version_id: int
    file_id: int
    name: str
    outcome: FixityOutcome
    detail: str


async def sha256_of(
    store: ObjectStore, bucket: str, key: str, throttle: Throttle | None = None
) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    reader = await store.open_read(bucket, key)
    try:
        async for chunk in reader:
            if throttle is not None:
                await throttle(len(chunk))
            digest.update(chunk)
            size += len(chunk)
    finally:
        await reader.aclose()
    return size, digest.hexdigest()


async def check_file(
    store: ObjectStore, file: DatasetFile, throttle: Throttle | None = None
) -> str:
    """ "ok", "missing", or what differs ("size ..., expected ..." / "sha256 ...")."""
    try:
        size, sha256 = await sha256_of(store, store.buckets.raw, file.raw_key, throttle)
    except ObjectNotFound:
        return "missing"
    if size != file.size:
        return f"size {size}, expected {file.size}"
    if sha256 != file.sha256:
        return f"sha256 {sha256}, expected {file.sha256}"
    return "ok"


def outcome_of(result: str) -> FixityOutcome:
    if result == "ok":
        return FixityOutcome.OK
    return FixityOutcome.MISSING if result == "missing" else FixityOutcome.MISMATCH


def worst(results: Iterable[str]) -> str:
    outcomes = {outcome_of(r) for r in results}
    for outcome in (FixityOutcome.MISSING, FixityOutcome.MISMATCH):
        if outcome in outcomes:
            return outcome.value
    return FixityOutcome.OK.value


async def record_checks(
    session: AsyncSession,
    run_id: str,
    results: dict[str, str],
    *,
    started_at: dt.datetime,
    ended_at: dt.datetime,
) -> list[FixityFailure]:
    """Record the outcome of each checked raw object (`results`: raw key -> result) for every
    file naming it: state, history, PROV (one activity per version), audit of failures."""
    if not results:
        return []
    files = (
        await session.scalars(
            select(DatasetFile)
            .where(DatasetFile.raw_key.in_(list(results)))
            .order_by(DatasetFile.version_id, DatasetFile.path)
        )
    ).all()
    by_version: dict[int, list[tuple[DatasetFile, str]]] = defaultdict(list)
    for file in files:
        by_version[file.version_id].append((file, results[file.raw_key]))
    for key, result in results.items():
        await session.execute(
            update(DatasetFile)
            .where(DatasetFile.raw_key == key)
            .values(fixity_checked_at=ended_at, fixity_outcome=outcome_of(result).value)
            .execution_options(synchronize_session=False)
        )
    session.add_all(
        FixityCheck(
            file_id=file.id,
            run_id=run_id,
            checked_at=ended_at,
            outcome=outcome_of(result),
            detail=None if result == "ok" else result[:500],
        )
        for checked in by_version.values()
        for file, result in checked
    )
    failures: list[FixityFailure] = []
    for version_id, checked in by_version.items():
        await record_fixity(
            session,
            version_id,
            run_id,
            outcome=worst(r for _, r in checked),
            checked=checked,
            started_at=started_at,
            ended_at=ended_at,
        )
        failures += await _audit_failures(session, version_id, run_id, checked)
    return failures


async def record_fixity(
    session: AsyncSession,
    version_id: int,
    run_id: str,
    *,
    outcome: str,
    checked: Sequence[tuple[DatasetFile, str]],
    started_at: dt.datetime,
    ended_at: dt.datetime,
) -> int:
    """A fixity check of a version's raw objects; `checked` holds (file, result) pairs."""
    version, dataset = await records.version_and_dataset(session, version_id)
    activity = await records.ensure_node(
        session,
        f"fixity-{version_id}-{run_id}",
        ProvKind.ACTIVITY,
        "fixity_check",
        label=f"fixity check of {dataset.title} v{version.number}",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=version.id,
        attributes={
            "outcome": outcome,
            "filesChecked": len(checked),
            "failures": sorted(f"{f.name}: {r}" for f, r in checked if r != "ok") or None,
            "softwareVersion": records.software_version(),
        },
        started_at=started_at,
        ended_at=ended_at,
    )
    software = await records.software_agent(session)
    await records.link(session, R.WAS_ASSOCIATED_WITH, activity, software)
    for file, _ in checked:
        if file.upload_id is None:
            continue
        upload = await session.get(Upload, file.upload_id)
        if upload is not None:
            raw, _ = await record_upload(session, upload)
            await records.link(session, R.USED, activity, raw)
    return activity


async def _audit_failures(
    session: AsyncSession, version_id: int, run_id: str, checked: list[tuple[DatasetFile, str]]
) -> list[FixityFailure]:
    failed = [(file, result) for file, result in checked if result != "ok"]
    if not failed:
        return []
    dataset_id = await session.scalar(
        select(DatasetVersion.dataset_id).where(DatasetVersion.id == version_id)
    )
    assert dataset_id is not None
    found = []
    for file, result in failed:
        outcome = outcome_of(result)
        session.add(
            audit.event(
                None,
                "fixityCheck",
                target_type="DatasetFile",
                target_id=file.id,
                outcome=audit.ERROR,
                code=FIXITY_FAILED,
                detail={
                    "run": run_id,
                    "versionId": version_id,
                    "name": file.name,
                    "key": file.raw_key,
                    "outcome": outcome.value,
                    "detail": result,
                },
            )
        )
        found.append(FixityFailure(dataset_id, version_id, file.id, file.name, outcome, result))
    return found


def dataset_channel(dataset_id: int) -> str:
    """A dataset's event channel (a RedisBus puts its deployment's prefix in front)."""
    return f"dataset:{dataset_id}"


def fixity_events(failures: Iterable[FixityFailure]) -> list[tuple[str, dict[str, Any]]]:
    """(channel, message) for each failure: publish them once the record committed."""
    return [
        (
            dataset_channel(f.dataset_id),
            {
                "event": "fixityFailed",
                "datasetId": f.dataset_id,
                "versionId": f.version_id,
                "fileId": f.file_id,
                "name": f.name,
                "outcome": f.outcome.value,
                "detail": f.detail,
            },
        )
        for f in failures
    ]


async def run_fixity_check(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    version_id: int,
    run_id: str,
    throttle: Throttle | None = None,
) -> tuple[FixityReport, list[FixityFailure]]:
    """Check every file of one version now (`satreps fixity VERSION`, `checkFixity`)."""
    async with sessions() as session:
        if await session.get(DatasetVersion, version_id) is None:
            return FixityReport(version_id, run_id, "gone"), []
        files = (
            await session.scalars(
                select(DatasetFile)
                .where(DatasetFile.version_id == version_id)
                .order_by(DatasetFile.path)
            )
        ).all()
    started = utcnow()
    by_key: dict[str, str] = {}
    for file in files:
        if file.raw_key not in by_key:
            by_key[file.raw_key] = await check_file(store, file, throttle)
    results = {file.name: by_key[file.raw_key] for file in files}
    async with sessions() as session:
        failures = await record_checks(
            session, run_id, by_key, started_at=started, ended_at=utcnow()
        )
        if not files:  # nothing to read: still on record that it was looked at
            await record_fixity(
                session,
                version_id,
                run_id,
                outcome="ok",
                checked=[],
                started_at=started,
                ended_at=utcnow(),
            )
        await session.commit()
    report = FixityReport(version_id, run_id, worst(results.values()), results)
    return report, failures
