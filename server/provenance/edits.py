"""PROV of a person's edits to a dataset's metadata (coverage corrections): an activity that
used the dataset (or its version), associated with the person, with what they set."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.core.db import utcnow
from server.models import Dataset, DatasetVersion
from server.models.provenance import ProvKind, ProvRelation
from server.provenance.records import (
    account_agent,
    dataset_entity,
    ensure_node,
    link,
    version_entity,
)


async def record_coverage_edit(
    session: AsyncSession,
    principal: Principal,
    dataset: Dataset,
    version: DatasetVersion | None,
    change: dict[str, Any],
) -> int:
    """The edit as an activity; `change` holds the parts set (null: back to the data's)."""
    when = utcnow()
    target = f"version-{version.id}" if version is not None else f"dataset-{dataset.id}"
    activity = await ensure_node(
        session,
        f"coverage-edit-{target}-{when.strftime('%Y%m%dT%H%M%S%f')}",
        ProvKind.ACTIVITY,
        "coverage_edit",
        label=f"coverage of {dataset.title}"
        + (f" v{version.number}" if version is not None else "")
        + " set by a person",
        dataset_id=dataset.id,
        project_id=dataset.project_id,
        object_id=version.id if version is not None else dataset.id,
        attributes={"target": target, **change},
        started_at=when,
        ended_at=when,
    )
    entity = (
        await version_entity(session, version, dataset)
        if version is not None
        else await dataset_entity(session, dataset)
    )
    await link(session, ProvRelation.USED, activity, entity)
    agent = await account_agent(session, principal.account_id, dataset.owner_institution_id)
    if agent is not None:
        await link(session, ProvRelation.WAS_ASSOCIATED_WITH, activity, agent)
    return activity
