"""Reading public records (`VersionRecord`, server/publishing/record.py) for many versions
in a fixed number of statements, as plain column rows: an OAI-PMH page, a DCAT catalogue, a
landing page, the DataCite job."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.models import (
    Account,
    Affiliation,
    Dataset,
    DatasetFile,
    DatasetKeyword,
    DatasetTheme,
    DatasetVersion,
    Institution,
    LanguageText,
    PersistentId,
    Project,
    ProjectCountry,
    ProjectMember,
    Researcher,
    Theme,
    Upload,
)
from server.models.enums import MemberRole, VersionState
from server.publishing.record import (
    LEAD_ROLES,
    UND,
    Coverage,
    FileEntry,
    Organisation,
    Person,
    ProjectRef,
    Text,
    ThemeRef,
    VersionRecord,
    files_public_on,
    publishable,
)


async def load_record(
    session: AsyncSession, version_id: int, *, today: dt.date | None = None
) -> VersionRecord | None:
    """The public record of one version, or None when it is not a public record."""
    return (await load_records(session, [version_id], today=today)).get(version_id)


async def load_records(
    session: AsyncSession, version_ids: Sequence[int], *, today: dt.date | None = None
) -> dict[int, VersionRecord]:
    """{version id: record} for those of `version_ids` that are public records (others are
    left out), in a fixed number of statements whatever the number of versions."""
    day = today or dt.datetime.now(dt.UTC).date()
    found = (
        await session.execute(
            select(*_VERSION_COLUMNS, *_DATASET_COLUMNS, *_PROJECT_COLUMNS)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .join(Project, Project.id == Dataset.project_id)
            .where(DatasetVersion.id.in_(list(version_ids)), publishable())
        )
    ).all()
    if not found:
        return {}
    # plain rows, not ORM objects: a harvest reads thousands of versions a second
    rows = [_split(row) for row in found]
    versions = {v.id: (v, d, p) for v, d, p in rows}
    dataset_ids = sorted({d.id for _, d, _ in rows})
    project_ids = sorted({p.id for _, _, p in rows})

    texts = await texts_of(session, LanguageText.dataset_id, dataset_ids)
    project_texts = await texts_of(session, LanguageText.project_id, project_ids)
    keywords = await _keywords(session, dataset_ids)
    countries = await countries_of(session, project_ids)
    themes = await _themes(session, dataset_ids)
    siblings = await _published_siblings(session, dataset_ids)
    files = await _files(session, list(versions), day)
    uploaders = await _uploaders(session, list(versions))
    leads = await _leads(session, project_ids)
    people = await _people(
        session,
        {r for ids in uploaders.values() for r in ids}
        | {r for pairs in leads.values() for r, _ in pairs},
    )
    owners = await _organisations(session, {d.owner_institution_id for _, d, _ in rows})
    dois = await _findable_dois(session, dataset_ids)

    out: dict[int, VersionRecord] = {}
    for version_id, (version, dataset, project) in versions.items():
        roles = dict(leads.get(project.id, []))
        made_by = [r for r in uploaders.get(version_id, []) if r in people]
        lead_ids = [r for r, _ in leads.get(project.id, []) if r in people]
        creator_ids = made_by or lead_ids
        creators = tuple(_with_role(people[r], roles.get(r)) for r in creator_ids)
        contributors = tuple(
            _with_role(people[r], roles.get(r)) for r in lead_ids if r not in creator_ids
        )
        published = siblings.get(dataset.id, [])
        earlier = [v for v, n in published if n < version.number]
        later = tuple(v for v, n in published if n > version.number)
        out[version_id] = VersionRecord(
            version_id=version.id,
            dataset_id=dataset.id,
            number=version.number,
            published_at=_aware(version.published_at or version.created_at),
            titles=field_of(texts, dataset.id, "title", dataset.title),
            descriptions=field_of(texts, dataset.id, "description", dataset.description),
            keywords=keywords.get(dataset.id)
            or tuple(Text(UND, k) for k in dataset.keywords or []),
            creators=creators,
            contributors=contributors,
            publisher=owners[dataset.owner_institution_id],
            licence=dataset.licence,
            access_level=dataset.access_level,
            embargo_until=dataset.embargo_until,
            project=project_ref(project, project_texts, countries),
            themes=tuple(themes.get(dataset.id, [])),
            coverage=_coverage(version),
            files=tuple(files.get(version_id, [])),
            note=version.note,
            previous_version_id=earlier[-1] if earlier else None,
            newer_version_ids=later,
            doi=dois.get((dataset.id, version.id)),
            concept_doi=dois.get((dataset.id, None)),
        )
    return out


_VERSION_COLUMNS = [
    getattr(DatasetVersion, c).label(f"v_{c}")
    for c in (
        "id", "number", "published_at", "created_at", "note",
        "south", "west", "north", "east", "time_start", "time_end",
    )
]  # fmt: skip
_DATASET_COLUMNS = [
    getattr(Dataset, c).label(f"d_{c}")
    for c in (
        "id", "title", "description", "keywords", "licence", "access_level", "embargo_until",
        "owner_institution_id",
    )
]  # fmt: skip
_PROJECT_COLUMNS = [
    getattr(Project, c).label(f"p_{c}")
    for c in ("id", "title", "acronym", "start_date", "end_date")
]


def _split(row: Any) -> tuple[SimpleNamespace, SimpleNamespace, SimpleNamespace]:
    """A joined row as (version, dataset, project), each with its columns as attributes."""
    parts: dict[str, dict[str, Any]] = {"v": {}, "d": {}, "p": {}}
    for key, value in row._mapping.items():
        parts[key[0]][key[2:]] = value
    return (
        SimpleNamespace(**parts["v"]),
        SimpleNamespace(**parts["d"]),
        SimpleNamespace(**parts["p"]),
    )


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def project_ref(project: Any, texts: Any, countries: dict[int, list[str]]) -> ProjectRef:
    """A record's project: its row, its texts (texts_of) and partner countries
    (countries_of)."""
    return ProjectRef(
        id=project.id,
        titles=field_of(texts, project.id, "title", project.title),
        acronym=project.acronym,
        countries=tuple(countries.get(project.id, [])),
        start_date=project.start_date,
        end_date=project.end_date,
    )


def _with_role(person: Person, role: MemberRole | None) -> Person:
    return person if person.role == role else Person(**{**person.__dict__, "role": role})


def _coverage(version: Any) -> Coverage:
    return Coverage(
        south=version.south,
        west=version.west,
        north=version.north,
        east=version.east,
        time_start=version.time_start,
        time_end=version.time_end,
    )


TextsByOwner = dict[tuple[int, str], list[Text]]


async def texts_of(
    session: AsyncSession, column: InstrumentedAttribute[int | None], ids: Sequence[int]
) -> TextsByOwner:
    """Language-tagged values of owners by id; `column` is a LanguageText.<owner>_id."""
    rows = await session.execute(
        select(
            column, LanguageText.field, LanguageText.lang, LanguageText.value, LanguageText.original
        )
        .where(column.in_(list(ids)))
        .order_by(LanguageText.position, LanguageText.id)
    )
    found: TextsByOwner = {}
    for owner_id, name, lang, value, original in rows:
        if owner_id is not None:
            found.setdefault((owner_id, name), []).append(Text(lang, value, bool(original)))
    return found


def field_of(texts: TextsByOwner, owner_id: int, name: str, column: str | None) -> tuple[Text, ...]:
    """A field's language-tagged values; rows written around the services have none, and
    read as their column's value in an unknown language."""
    if rows := texts.get((owner_id, name)):
        return tuple(rows)
    return (Text(UND, column),) if column else ()


async def _keywords(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[int, tuple[Text, ...]]:
    rows = await session.execute(
        select(
            DatasetKeyword.dataset_id,
            DatasetKeyword.lang,
            DatasetKeyword.value,
            DatasetKeyword.translated,
        )
        .where(DatasetKeyword.dataset_id.in_(list(dataset_ids)))
        .order_by(DatasetKeyword.position, DatasetKeyword.id)
    )
    found: dict[int, list[Text]] = {}
    for dataset_id, lang, value, translated in rows:
        found.setdefault(dataset_id, []).append(Text(lang, value, not translated))
    return {k: tuple(v) for k, v in found.items()}


async def countries_of(session: AsyncSession, project_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = await session.execute(
        select(ProjectCountry.project_id, ProjectCountry.country_code)
        .where(ProjectCountry.project_id.in_(list(project_ids)))
        .order_by(ProjectCountry.country_code)
    )
    found: dict[int, list[str]] = {}
    for project_id, code in rows:
        found.setdefault(project_id, []).append(code)
    return found


async def _themes(session: AsyncSession, dataset_ids: Sequence[int]) -> dict[int, list[ThemeRef]]:
    rows = (
        await session.execute(
            select(DatasetTheme.dataset_id, Theme.id, Theme.code, Theme.name)
            .join(Theme, Theme.id == DatasetTheme.theme_id)
            .where(DatasetTheme.dataset_id.in_(list(dataset_ids)))
            .order_by(Theme.code)
        )
    ).all()
    names = await texts_of(session, LanguageText.theme_id, sorted({t for _, t, _, _ in rows}))
    found: dict[int, list[ThemeRef]] = {}
    for dataset_id, theme_id, code, name in rows:
        ref = ThemeRef(theme_id, code, field_of(names, theme_id, "name", name))
        found.setdefault(dataset_id, []).append(ref)
    return found


async def _published_siblings(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[int, list[tuple[int, int]]]:
    """{dataset id: [(version id, number)]} of every published version, by number."""
    rows = await session.execute(
        select(DatasetVersion.dataset_id, DatasetVersion.id, DatasetVersion.number)
        .where(
            DatasetVersion.dataset_id.in_(list(dataset_ids)),
            DatasetVersion.state == VersionState.PUBLISHED,
        )
        .order_by(DatasetVersion.number)
    )
    found: dict[int, list[tuple[int, int]]] = {}
    for dataset_id, version_id, number in rows:
        found.setdefault(dataset_id, []).append((version_id, number))
    return found


async def _files(
    session: AsyncSession, version_ids: Sequence[int], day: dt.date
) -> dict[int, list[FileEntry]]:
    rows = await session.execute(
        select(
            DatasetFile.version_id,
            DatasetFile.id,
            DatasetFile.path,
            DatasetFile.size,
            DatasetFile.sha256,
            DatasetFile.media_type,
            DatasetFile.format,
            files_public_on(day),
        )
        .join(DatasetVersion, DatasetVersion.id == DatasetFile.version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetFile.version_id.in_(list(version_ids)))
        .order_by(DatasetFile.version_id, DatasetFile.path)
    )
    found: dict[int, list[FileEntry]] = {}
    for version_id, file_id, path, size, sha256, media_type, fmt, public in rows:
        entry = FileEntry(file_id, path, size, sha256, media_type, fmt, bool(public))
        found.setdefault(version_id, []).append(entry)
    return found


async def _uploaders(session: AsyncSession, version_ids: Sequence[int]) -> dict[int, list[int]]:
    """{version id: [researcher id]} of the people whose uploads became the version's files,
    by their first upload."""
    first = func.min(Upload.id).label("first")
    rows = await session.execute(
        select(DatasetFile.version_id, Account.researcher_id, first)
        .join(Upload, Upload.id == DatasetFile.upload_id)
        .join(Account, Account.id == Upload.created_by)
        .where(DatasetFile.version_id.in_(list(version_ids)), Account.researcher_id.is_not(None))
        .group_by(DatasetFile.version_id, Account.researcher_id)
        .order_by(DatasetFile.version_id, first)
    )
    found: dict[int, list[int]] = {}
    for version_id, researcher_id, _ in rows:
        if researcher_id is not None:
            found.setdefault(version_id, []).append(researcher_id)
    return found


async def _leads(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[tuple[int, MemberRole]]]:
    """{project id: [(researcher id, role)]}: the Japanese PIs first, then the partner's."""
    rows = await session.execute(
        select(ProjectMember.project_id, ProjectMember.researcher_id, ProjectMember.role)
        .where(ProjectMember.project_id.in_(list(project_ids)), ProjectMember.role.in_(LEAD_ROLES))
        .order_by(ProjectMember.project_id, ProjectMember.role, ProjectMember.id)
    )
    found: dict[int, list[tuple[int, MemberRole]]] = {}
    for project_id, researcher_id, role in rows:
        pairs = found.setdefault(project_id, [])
        if all(r != researcher_id for r, _ in pairs):
            pairs.append((researcher_id, MemberRole(role)))
    return found


async def _people(session: AsyncSession, researcher_ids: set[int]) -> dict[int, Person]:
    """Researchers with their current affiliations (no end date)."""
    if not researcher_ids:
        return {}
    researchers = (
        await session.execute(
            select(
                Researcher.id, Researcher.name_en, Researcher.name_local, Researcher.orcid
            ).where(Researcher.id.in_(sorted(researcher_ids)))
        )
    ).all()
    links = (
        await session.execute(
            select(Affiliation.researcher_id, Affiliation.institution_id)
            .where(
                Affiliation.researcher_id.in_(sorted(researcher_ids)),
                Affiliation.end_date.is_(None),
            )
            .order_by(Affiliation.researcher_id, Affiliation.id)
        )
    ).all()
    organisations = await _organisations(session, {i for _, i in links})
    by_researcher: dict[int, list[Organisation]] = {}
    for researcher_id, institution_id in links:
        by_researcher.setdefault(researcher_id, []).append(organisations[institution_id])
    return {
        r.id: Person(
            researcher_id=r.id,
            name=r.name_en,
            name_local=r.name_local,
            orcid=r.orcid,
            affiliations=tuple(by_researcher.get(r.id, [])),
        )
        for r in researchers
    }


async def _findable_dois(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[tuple[int, int | None], str]:
    """{(dataset id, version id, or None for the concept): DOI} of the findable DOIs."""
    rows = await session.execute(
        select(PersistentId.dataset_id, PersistentId.version_id, PersistentId.value).where(
            PersistentId.dataset_id.in_(list(dataset_ids)),
            PersistentId.scheme == "doi",
            PersistentId.state == "findable",
        )
    )
    return {(d, v): value for d, v, value in rows}


async def _organisations(session: AsyncSession, ids: set[int]) -> dict[int, Organisation]:
    if not ids:
        return {}
    institutions = (
        await session.execute(
            select(
                Institution.id,
                Institution.name_en,
                Institution.country_code,
                Institution.ror_id,
                Institution.website,
            ).where(Institution.id.in_(sorted(ids)))
        )
    ).all()
    names = await texts_of(session, LanguageText.institution_id, sorted(ids))
    return {
        i.id: Organisation(
            id=i.id,
            name=i.name_en,
            names=field_of(names, i.id, "name", i.name_en),
            country_code=i.country_code,
            ror_id=i.ror_id,
            website=i.website,
        )
        for i in institutions
    }
