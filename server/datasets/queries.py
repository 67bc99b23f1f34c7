"""Datasets and their versions, read: the filters, the statements the compiled path shares,
and the batch reads behind the dataloaders (each keyed by id, in the principal's sight)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import dataset_visible
from server.core.db import group_rows
from server.core.errors import Collector, ErrorCode
from server.datasets import coverage
from server.models import (
    Artifact,
    Dataset,
    DatasetFile,
    DatasetTheme,
    DatasetVersion,
    Project,
    Theme,
    Upload,
    UploadWarning,
)
from server.models.enums import AccessLevel, FixityOutcome, UploadState
from server.projects.queries import in_partner_country, in_theme


@dataclass
class DatasetFilter:
    project_id: int | None = None
    institution_id: int | None = None
    theme_id: int | None = None
    country: str | None = None
    access_level: AccessLevel | None = None
    # coverage: (west, south, east, north) in degrees, west > east across the antimeridian
    intersects: tuple[float, float, float, float] | None = None
    time_from: dt.datetime | None = None
    time_to: dt.datetime | None = None


async def datasets_query(
    session: AsyncSession, principal: Principal, flt: DatasetFilter | None
) -> Select[Any]:
    themed = None
    if flt is not None and flt.theme_id is not None:
        themed = await in_theme(session, flt.theme_id)
    return datasets_filtered(principal, flt, themed, dialect=session.get_bind().dialect.name)


def datasets_filtered(
    principal: Principal,
    flt: DatasetFilter | None,
    themed: ColumnElement[bool] | None = None,
    *,
    dialect: str,
) -> Select[Any]:
    """The datasets the principal may see that match the filter; `themed` is the theme
    filter's clause over projects (`in_theme`), given when the filter names a theme; the
    coverage filter reads the index of the `dialect` (INVALID_LATITUDE, INVALID_LONGITUDE,
    INVALID_PERIOD for a filter that is no box or no period)."""
    stmt = select(Dataset).where(dataset_visible(principal))
    if flt is None:
        return stmt
    stmt = stmt.where(*covered(flt, dialect))
    if flt.project_id is not None:
        stmt = stmt.where(Dataset.project_id == flt.project_id)
    if flt.institution_id is not None:
        stmt = stmt.where(Dataset.owner_institution_id == flt.institution_id)
    if flt.access_level is not None:
        stmt = stmt.where(Dataset.access_level == flt.access_level)
    if themed is not None or flt.country:
        projects = select(Project.id)
        if themed is not None:
            projects = projects.where(themed)
        if flt.country:
            projects = projects.where(in_partner_country(flt.country))
        stmt = stmt.where(Dataset.project_id.in_(projects))
    return stmt


def covered(flt: DatasetFilter, dialect: str) -> list[ColumnElement[bool]]:
    """The coverage filter's clauses: the box meets `intersects`, the period meets
    [time_from, time_to]; a dataset whose coverage lacks the part asked about is left out."""
    errors = Collector()
    box = None
    if flt.intersects is not None:
        box = coverage.check_box(errors, "filter.intersects", *flt.intersects)
    start, end = coverage.as_utc(flt.time_from), coverage.as_utc(flt.time_to)
    if start is not None and end is not None and start > end:
        errors.add(ErrorCode.INVALID_PERIOD, "timeFrom is after timeTo", "filter.timeFrom")
    errors.raise_if_any()
    clauses = []
    if box is not None:
        clauses.append(coverage.intersects(Dataset, box, dialect))
    if start is not None or end is not None:
        clauses.append(coverage.in_period(Dataset, start, end, dialect))
    return clauses


async def dataset_counts(
    session: AsyncSession, principal: Principal, flt: DatasetFilter | None
) -> dict[AccessLevel, int]:
    """How many datasets per access level, among those the principal may see (an aggregate
    never counts what its caller may not know exists)."""
    visible = (await datasets_query(session, principal, flt)).subquery()
    rows = await session.execute(
        select(visible.c.access_level, func.count()).group_by(visible.c.access_level)
    )
    return {AccessLevel(level): count for level, count in rows.all()}


async def datasets_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, Dataset]:
    rows = await session.scalars(
        select(Dataset).where(Dataset.id.in_(ids), dataset_visible(principal))
    )
    return {row.id: row for row in rows}


async def datasets_by_project(
    session: AsyncSession, principal: Principal, project_ids: Sequence[int]
) -> dict[int, list[Dataset]]:
    rows = await session.execute(
        select(Dataset.project_id, Dataset)
        .where(Dataset.project_id.in_(project_ids), dataset_visible(principal))
        .order_by(Dataset.id)
    )
    return group_rows(rows)


async def versions_by_dataset(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[int, list[DatasetVersion]]:
    rows = await session.execute(
        select(DatasetVersion.dataset_id, DatasetVersion)
        .where(DatasetVersion.dataset_id.in_(dataset_ids))
        .order_by(DatasetVersion.number)
    )
    return group_rows(rows)


async def versions_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, DatasetVersion]:
    rows = await session.scalars(
        select(DatasetVersion)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id.in_(ids), dataset_visible(principal))
    )
    return {row.id: row for row in rows}


async def files_by_version(
    session: AsyncSession, version_ids: Sequence[int]
) -> dict[int, list[DatasetFile]]:
    rows = await session.execute(
        select(DatasetFile.version_id, DatasetFile)
        .where(DatasetFile.version_id.in_(version_ids))
        .order_by(DatasetFile.path)
    )
    return group_rows(rows)


async def uploads_by_version(
    session: AsyncSession, version_ids: Sequence[int]
) -> dict[int, list[Upload]]:
    rows = await session.execute(
        select(Upload.version_id, Upload)
        .where(Upload.version_id.in_(version_ids))
        .order_by(Upload.id)
    )
    return group_rows(rows)


async def upload_counts(session: AsyncSession, version_id: int) -> list[tuple[UploadState, int]]:
    """How many uploads of the version are in each state (the states with any), in the
    states' order: what a client waiting for a folder polls, instead of every upload."""
    rows = await session.execute(
        select(Upload.state, func.count())
        .where(Upload.version_id == version_id)
        .group_by(Upload.state)
    )
    order = list(UploadState)
    return sorted(
        ((UploadState(s), int(n)) for s, n in rows.all()), key=lambda r: order.index(r[0])
    )


async def warnings_by_upload(
    session: AsyncSession, upload_ids: Sequence[int]
) -> dict[int, list[UploadWarning]]:
    rows = await session.execute(
        select(UploadWarning.upload_id, UploadWarning)
        .where(UploadWarning.upload_id.in_(upload_ids))
        .order_by(UploadWarning.position)
    )
    return group_rows(rows)


async def themes_by_dataset(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[int, list[Theme]]:
    rows = await session.execute(
        select(DatasetTheme.dataset_id, Theme)
        .join(Theme, Theme.id == DatasetTheme.theme_id)
        .where(DatasetTheme.dataset_id.in_(dataset_ids))
        .order_by(Theme.id)
    )
    return group_rows(rows)


async def files_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, DatasetFile]:
    rows = await session.scalars(
        select(DatasetFile)
        .join(DatasetVersion, DatasetVersion.id == DatasetFile.version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetFile.id.in_(ids), dataset_visible(principal))
    )
    return {row.id: row for row in rows}


async def uploads_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, Upload]:
    rows = await session.scalars(
        select(Upload)
        .join(DatasetVersion, DatasetVersion.id == Upload.version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(Upload.id.in_(ids), dataset_visible(principal))
    )
    return {row.id: row for row in rows}


async def artifacts_by_file(
    session: AsyncSession, file_ids: Sequence[int]
) -> dict[int, list[Artifact]]:
    rows = await session.execute(
        select(Artifact.file_id, Artifact)
        .where(Artifact.file_id.in_(file_ids))
        .order_by(Artifact.kind)
    )
    return group_rows(rows)


# --- fixity: a version's files' latest checks, summed up ----------------------------------


@dataclass(frozen=True)
class FixitySummary:
    last_checked_at: dt.datetime | None
    outcome: str | None  # a FixityOutcome value; None while a file was never checked
    checked_files: int
    failed_files: int


NO_FILES = FixitySummary(None, FixityOutcome.OK.value, 0, 0)  # a version without files


def fixity_columns(file: Any) -> dict[str, ColumnElement[Any]]:
    """The summary of the files in the FROM (an alias of DatasetFile), as aggregates: the
    compiled path and the dataloader use the same rule. The outcome is the worst of the
    files' latest checks (missing, then mismatch); null when none failed but one was never
    checked; ok when every file was checked and matched."""
    failed = (FixityOutcome.MISMATCH.value, FixityOutcome.MISSING.value)

    def count_of(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    missing = count_of(file.fixity_outcome == FixityOutcome.MISSING.value)
    mismatch = count_of(file.fixity_outcome == FixityOutcome.MISMATCH.value)
    checked = func.count(file.fixity_checked_at)
    return {
        "last_checked_at": func.max(file.fixity_checked_at),
        "checked_files": checked,
        "failed_files": count_of(file.fixity_outcome.in_(failed)),
        "outcome": case(
            (missing > 0, FixityOutcome.MISSING.value),
            (mismatch > 0, FixityOutcome.MISMATCH.value),
            (checked < func.count(file.id), None),
            else_=FixityOutcome.OK.value,
        ),
    }


async def fixity_by_version(
    session: AsyncSession, version_ids: Sequence[int]
) -> dict[int, FixitySummary]:
    """Versions without files are left out (NOT_CHECKED describes them)."""
    columns = fixity_columns(DatasetFile)
    rows = await session.execute(
        select(DatasetFile.version_id, *columns.values())
        .where(DatasetFile.version_id.in_(version_ids))
        .group_by(DatasetFile.version_id)
    )
    return {row[0]: FixitySummary(**dict(zip(columns, row[1:], strict=True))) for row in rows}
