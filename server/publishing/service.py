"""Keeping the public record current: every change to what the public sees of a published
version moves its datestamp (`PublicRecord`), so harvesters fetch it again and registries
are told. The datasets domain calls `refresh` in the transaction of each such change:
publishing a version, editing a dataset's metadata, an embargo's end, a change of level."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import utcnow
from server.models import Dataset, DatasetVersion, Project, PublicRecord
from server.models.enums import VersionState
from server.publishing.record import files_public_on, publishable


async def refresh(
    session: AsyncSession,
    dataset_ids: Sequence[int],
    *,
    changed: bool = False,
    today: dt.date | None = None,
) -> list[int]:
    """Bring the public records of these datasets' published versions up to date, in the
    caller's transaction. A version becomes a record when it is first public; its datestamp
    moves when it stops or starts being public, when its files open, or (`changed`) when the
    caller changed what the public sees of it. Returns the versions whose datestamp moved."""
    if not dataset_ids:
        return []
    day = today or dt.datetime.now(dt.UTC).date()
    rows = (
        await session.execute(
            select(
                DatasetVersion.id,
                DatasetVersion.dataset_id,
                publishable(),
                files_public_on(day),
                PublicRecord,
            )
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .join(Project, Project.id == Dataset.project_id)
            .outerjoin(PublicRecord, PublicRecord.version_id == DatasetVersion.id)
            .where(
                DatasetVersion.dataset_id.in_(list(dataset_ids)),
                DatasetVersion.state == VersionState.PUBLISHED,
            )
            .order_by(DatasetVersion.id)
        )
    ).all()
    now = utcnow()
    moved: list[int] = []
    for version_id, dataset_id, public, files_public, record in rows:
        public, files_public = bool(public), bool(public and files_public)
        if record is None:
            if public:
                session.add(
                    PublicRecord(
                        version_id=version_id,
                        dataset_id=dataset_id,
                        datestamp=now,
                        deleted=False,
                        files_public=files_public,
                    )
                )
                moved.append(version_id)
            continue
        if record.deleted == public or record.files_public != files_public or (changed and public):
            record.deleted = not public
            record.files_public = files_public
            record.datestamp = now
            moved.append(version_id)
    await session.flush()
    return moved
