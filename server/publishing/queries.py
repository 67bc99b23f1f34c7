"""Reads of the persistent identifiers, keyed for dataloaders."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import DatasetVersion, PersistentId


async def pids_by_version(
    session: AsyncSession, version_ids: Sequence[int]
) -> dict[int, tuple[PersistentId, int]]:
    """{version id: (its identifier, the version's number)}; versions without one are left
    out."""
    rows = await session.execute(
        select(PersistentId, DatasetVersion.number)
        .join(DatasetVersion, DatasetVersion.id == PersistentId.version_id)
        .where(PersistentId.version_id.in_(list(version_ids)))
    )
    return {pid.version_id: (pid, number) for pid, number in rows if pid.version_id}


async def concept_pids_by_dataset(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[int, PersistentId]:
    rows = await session.scalars(
        select(PersistentId).where(
            PersistentId.dataset_id.in_(list(dataset_ids)), PersistentId.version_id.is_(None)
        )
    )
    return {pid.dataset_id: pid for pid in rows}
