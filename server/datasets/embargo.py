"""Embargoes end on their date. Reads already treat a passed embargo as public (the rule is
in SQL, `server/access/visibility.py`); lifting makes the dataset public in its row and
records it in the audit log. Safe to run any number of times, by any number of workers."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access import audit
from server.core.db import utcnow
from server.models import Dataset
from server.models.enums import AccessLevel
from server.notifications.events import emit
from server.publishing import service as public_records


async def lift_embargoes(
    sessions: async_sessionmaker[AsyncSession], today: dt.date | None = None
) -> list[int]:
    """Datasets whose embargo ended by `today` become public; returns their ids."""
    day = today or dt.datetime.now(dt.UTC).date()
    async with sessions() as session:
        due = (
            await session.execute(
                select(Dataset.id, Dataset.embargo_until).where(
                    Dataset.access_level == AccessLevel.EMBARGOED, Dataset.embargo_until <= day
                )
            )
        ).all()
        lifted: list[int] = []
        for dataset_id, until in due:
            # the WHERE makes a second, concurrent lifter change (and record) nothing
            changed = await session.execute(
                update(Dataset)
                .where(Dataset.id == dataset_id, Dataset.access_level == AccessLevel.EMBARGOED)
                .values(access_level=AccessLevel.PUBLIC, embargo_until=None, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                session.add(
                    audit.event(
                        None,
                        "liftEmbargo",
                        target_type="Dataset",
                        target_id=dataset_id,
                        detail={"embargoUntil": str(until), "liftedOn": day.isoformat()},
                    )
                )
                emit(
                    session,
                    "dataset.embargo_lifted",
                    dataset_id=dataset_id,
                    payload={"until": str(until), "liftedOn": day.isoformat()},
                )
                lifted.append(dataset_id)
        await public_records.refresh(session, lifted, today=day)
        await session.commit()
    return lifted
