"""What the landing pages read: a dataset's public record (its latest public version, or
version n), the published versions beside it, and a project's public face with the latest
record of each of its public datasets. Nothing here is seen unless the publishing rules make
it public (`record.publishable`, the project's phase)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.visibility import PUBLIC_PHASES
from server.models import (
    Dataset,
    DatasetVersion,
    Institution,
    LanguageText,
    Project,
    ProjectInstitution,
)
from server.models.enums import VersionState
from server.publishing.loading import (
    countries_of,
    field_of,
    load_record,
    load_records,
    project_ref,
    texts_of,
)
from server.publishing.record import ProjectRef, Text, VersionRecord, publishable_select


@dataclass(frozen=True)
class VersionLink:
    number: int
    published_at: dt.datetime


@dataclass(frozen=True)
class DatasetPage:
    record: VersionRecord
    versions: tuple[VersionLink, ...]  # every published version, newest first
    latest: int  # the newest published version's number


@dataclass(frozen=True)
class ProjectPage:
    project: ProjectRef
    summaries: tuple[Text, ...]
    institutions: tuple[str, ...]  # English names of the project's institutions
    records: tuple[VersionRecord, ...]  # the latest public version of each dataset


async def dataset_page(
    session: AsyncSession,
    dataset_id: int,
    number: int | None = None,
    *,
    today: dt.date | None = None,
) -> DatasetPage | None:
    """Version `number` of the dataset (its latest published one when None), or None when it
    is not a public record."""
    query = publishable_select().where(DatasetVersion.dataset_id == dataset_id)
    if number is not None:
        query = query.where(DatasetVersion.number == number)
    version_id = await session.scalar(query.order_by(DatasetVersion.number.desc()).limit(1))
    if version_id is None:
        return None
    record = await load_record(session, version_id, today=today)
    if record is None:
        return None
    rows = (
        await session.execute(
            select(DatasetVersion.number, DatasetVersion.published_at, DatasetVersion.created_at)
            .where(
                DatasetVersion.dataset_id == dataset_id,
                DatasetVersion.state == VersionState.PUBLISHED,
            )
            .order_by(DatasetVersion.number.desc())
        )
    ).all()
    versions = tuple(VersionLink(n, published or created) for n, published, created in rows)
    return DatasetPage(record, versions, versions[0].number)


async def project_page(
    session: AsyncSession, project_id: int, *, today: dt.date | None = None
) -> ProjectPage | None:
    """The project when its phase makes it public, with its public datasets; else None."""
    project = await session.get(Project, project_id)
    if project is None or project.phase not in PUBLIC_PHASES:
        return None
    texts = await texts_of(session, LanguageText.project_id, [project_id])
    countries = await countries_of(session, [project_id])
    names = (
        await session.scalars(
            select(Institution.name_en)
            .join(ProjectInstitution, ProjectInstitution.institution_id == Institution.id)
            .where(ProjectInstitution.project_id == project_id)
            .order_by(ProjectInstitution.role, Institution.name_en)
        )
    ).all()
    latest = (
        publishable_select()
        .with_only_columns(func.max(DatasetVersion.id))
        .where(Dataset.project_id == project_id)
        .group_by(DatasetVersion.dataset_id)
    )
    version_ids: Sequence[int] = (await session.scalars(latest)).all()
    records = await load_records(session, version_ids, today=today)
    ref = project_ref(project, texts, countries)
    return ProjectPage(
        project=ref,
        summaries=field_of(texts, project.id, "summary", project.summary),
        institutions=tuple(names),
        records=tuple(sorted(records.values(), key=lambda r: r.title.lower())),
    )
