"""Fixity checks: re-hash a version's raw objects and record the outcome as a PROV activity.

The bytes are read outside any transaction (a check of large files takes minutes); the
outcome is written in one short transaction at the end. A run is keyed by its run id, so a
job that runs twice records one activity.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.db import utcnow
from server.models import DatasetFile, DatasetVersion
from server.provenance import records
from server.storage import ObjectNotFound, ObjectStore


@dataclass
class FixityReport:
    version_id: int
    run_id: str
    outcome: str  # ok | mismatch | missing | gone (no such version)
    results: dict[str, str] = field(default_factory=dict)  # file name -> ok, reason

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


async def sha256_of(store: ObjectStore, bucket: str, key: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    reader = await store.open_read(bucket, key)
    try:
        async for chunk in reader:
            digest.update(chunk)
            size += len(chunk)
    finally:
        await reader.aclose()
    return size, digest.hexdigest()


async def check_file(store: ObjectStore, file: DatasetFile) -> str:
    try:
        size, sha256 = await sha256_of(store, store.buckets.raw, file.raw_key)
    except ObjectNotFound:
        return "missing"
    if size != file.size:
        return f"size {size}, expected {file.size}"
    if sha256 != file.sha256:
        return f"sha256 {sha256}, expected {file.sha256}"
    return "ok"


async def run_fixity_check(
    sessions: async_sessionmaker[AsyncSession], store: ObjectStore, version_id: int, run_id: str
) -> FixityReport:
    async with sessions() as session:
        if await session.get(DatasetVersion, version_id) is None:
            return FixityReport(version_id, run_id, "gone")
        files = (
            await session.scalars(
                select(DatasetFile)
                .where(DatasetFile.version_id == version_id)
                .order_by(DatasetFile.name)
            )
        ).all()
    started = utcnow()
    checked = [(file, await check_file(store, file)) for file in files]
    results = {file.name: result for file, result in checked}
    failures = [r for r in results.values() if r != "ok"]
    outcome = "ok" if not failures else "missing" if "missing" in failures else "mismatch"
    async with sessions() as session:
        await records.record_fixity(
            session,
            version_id,
            run_id,
            outcome=outcome,
            checked=checked,
            started_at=started,
            ended_at=utcnow(),
        )
        await session.commit()
    return FixityReport(version_id, run_id, outcome, results)
