"""The public record of a published dataset version: one description that every outward
format is written from (DataCite JSON and XML, Dublin Core, schema.org, CSL-JSON, BibTeX,
RIS, DCAT). A record holds only what the public may know of the version: files the public
may not read today are listed without a distribution (`FileEntry.public`), and a record is
built only for versions whose metadata the publishing rules make public (`publishable`).

`load_records` reads many versions in a fixed number of statements (an OAI-PMH page, a
DCAT catalogue); the serialisers are pure functions of a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.access.visibility import PUBLIC_PHASES
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
from server.models.enums import AccessLevel, MemberRole, VersionState

ORCID = "https://orcid.org/"
ROR = "https://ror.org/"
SPDX = "https://spdx.org/licenses/"
UND = "und"
# the levels whose published versions are public records; a project- or institution-level
# dataset is not published outward (no landing page for the public, no OAI record, no DOI
# registered) until its level changes
OUTWARD_LEVELS = (AccessLevel.PUBLIC, AccessLevel.EMBARGOED)
# creators when no upload names one: the project's principal investigators
LEAD_ROLES = (MemberRole.JAPANESE_PI, MemberRole.PARTNER_PI)


@dataclass(frozen=True)
class Text:
    """A value in one BCP 47 language (`und` where none is known); `original` marks the
    language the value was written in, the others are translations."""

    lang: str
    value: str
    original: bool = True


def pick(texts: Sequence[Text], lang: str | None = None) -> Text | None:
    """The value to show: the asked language, else English, else the original, else the
    first."""
    for wanted in (lang, "en"):
        if wanted:
            for text in texts:
                if text.lang == wanted:
                    return text
    for text in texts:
        if text.original:
            return text
    return texts[0] if texts else None


@dataclass(frozen=True)
class Organisation:
    id: int
    name: str  # the English name
    names: tuple[Text, ...]
    country_code: str
    ror_id: str | None = None
    website: str | None = None

    @property
    def ror_url(self) -> str | None:
        return f"{ROR}{self.ror_id}" if self.ror_id else None


@dataclass(frozen=True)
class Person:
    researcher_id: int
    name: str  # as written in English ("Taro Yamada")
    name_local: str | None
    orcid: str | None
    affiliations: tuple[Organisation, ...]
    role: MemberRole | None = None  # their role in the project, when they are a member

    @property
    def orcid_url(self) -> str | None:
        return f"{ORCID}{self.orcid}" if self.orcid else None


@dataclass(frozen=True)
class FileEntry:
    id: int
    path: str
    size: int
    sha256: str
    media_type: str | None
    format: str | None
    public: bool  # the public may read its bytes today (public level, or embargo lifted)


@dataclass(frozen=True)
class ThemeRef:
    id: int
    code: str
    names: tuple[Text, ...]


@dataclass(frozen=True)
class ProjectRef:
    id: int
    titles: tuple[Text, ...]
    acronym: str | None
    countries: tuple[str, ...]  # ISO 3166-1 alpha-2 of the partner countries
    start_date: dt.date | None
    end_date: dt.date | None


@dataclass(frozen=True)
class Coverage:
    south: float | None = None
    west: float | None = None
    north: float | None = None
    east: float | None = None
    time_start: dt.datetime | None = None
    time_end: dt.datetime | None = None

    @property
    def has_box(self) -> bool:
        return self.west is not None

    @property
    def has_time(self) -> bool:
        return self.time_start is not None or self.time_end is not None


@dataclass(frozen=True)
class VersionRecord:
    version_id: int
    dataset_id: int
    number: int
    published_at: dt.datetime
    titles: tuple[Text, ...]
    descriptions: tuple[Text, ...]
    keywords: tuple[Text, ...]
    creators: tuple[Person, ...]  # who made the version (uploaders), else the project's PIs
    contributors: tuple[Person, ...]  # the project's PIs who are not creators
    publisher: Organisation  # the owner institution
    licence: str  # SPDX license expression
    access_level: AccessLevel
    embargo_until: dt.date | None
    project: ProjectRef
    themes: tuple[ThemeRef, ...]
    coverage: Coverage
    files: tuple[FileEntry, ...]
    note: str | None
    previous_version_id: int | None  # the published version before this one
    newer_version_ids: tuple[int, ...] = field(default=())  # published after this one
    # the version's DOI and its dataset's concept DOI, once DataCite has made them findable
    # (a DOI still being registered does not resolve yet: formats link the landing page)
    doi: str | None = None
    concept_doi: str | None = None

    @property
    def publication_year(self) -> int:
        return self.published_at.year

    @property
    def title(self) -> str:
        text = pick(self.titles)
        return text.value if text else ""

    @property
    def description(self) -> str | None:
        text = pick(self.descriptions)
        return text.value if text else None

    @property
    def licence_url(self) -> str | None:
        """The SPDX page of a single licence identifier; None for a compound expression."""
        expression = self.licence.strip()
        if expression and all(c.isalnum() or c in ".+-" for c in expression):
            return f"{SPDX}{expression}"
        return None

    @property
    def files_public(self) -> bool:
        return any(f.public for f in self.files)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


# ---- which versions are public records -------------------------------------------------


def publishable(version: type[DatasetVersion] = DatasetVersion) -> ColumnElement[bool]:
    """Published versions whose metadata is public: the dataset at the public or embargoed
    level (an embargo hides the files, not the description) in a project past approval.
    Needs `Dataset` and `Project` joined (see `publishable_select`)."""
    return and_(
        version.state == VersionState.PUBLISHED,
        Dataset.access_level.in_(OUTWARD_LEVELS),
        Project.phase.in_(PUBLIC_PHASES),
    )


def publishable_select() -> Select[Any]:
    """`SELECT dataset_versions.id ...` of the public records, joined to be filtered further
    (by date, theme, project, country) and ordered by the caller."""
    return (
        select(DatasetVersion.id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .join(Project, Project.id == Dataset.project_id)
        .where(publishable())
    )


def files_public_on(day: dt.date) -> ColumnElement[bool]:
    """The rule of `FileEntry.public` in SQL, over `Dataset`."""
    return or_(
        Dataset.access_level == AccessLevel.PUBLIC,
        and_(Dataset.access_level == AccessLevel.EMBARGOED, Dataset.embargo_until <= day),
    )


# ---- reading records --------------------------------------------------------------------


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

    texts = await _texts(session, LanguageText.dataset_id, dataset_ids)
    project_texts = await _texts(session, LanguageText.project_id, project_ids)
    keywords = await _keywords(session, dataset_ids)
    countries = await _countries(session, project_ids)
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
            titles=_field(texts, dataset.id, "title", dataset.title),
            descriptions=_field(texts, dataset.id, "description", dataset.description),
            keywords=keywords.get(dataset.id)
            or tuple(Text(UND, k) for k in dataset.keywords or []),
            creators=creators,
            contributors=contributors,
            publisher=owners[dataset.owner_institution_id],
            licence=dataset.licence,
            access_level=dataset.access_level,
            embargo_until=dataset.embargo_until,
            project=ProjectRef(
                id=project.id,
                titles=_field(project_texts, project.id, "title", project.title),
                acronym=project.acronym,
                countries=tuple(countries.get(project.id, [])),
                start_date=project.start_date,
                end_date=project.end_date,
            ),
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


async def _texts(
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


def _field(texts: TextsByOwner, owner_id: int, name: str, column: str | None) -> tuple[Text, ...]:
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


async def _countries(session: AsyncSession, project_ids: Sequence[int]) -> dict[int, list[str]]:
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
    names = await _texts(session, LanguageText.theme_id, sorted({t for _, t, _, _ in rows}))
    found: dict[int, list[ThemeRef]] = {}
    for dataset_id, theme_id, code, name in rows:
        ref = ThemeRef(theme_id, code, _field(names, theme_id, "name", name))
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
    names = await _texts(session, LanguageText.institution_id, sorted(ids))
    return {
        i.id: Organisation(
            id=i.id,
            name=i.name_en,
            names=_field(names, i.id, "name", i.name_en),
            country_code=i.country_code,
            ror_id=i.ror_id,
            website=i.website,
        )
        for i in institutions
    }
