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
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select

from server.access.visibility import PUBLIC_PHASES
from server.models import (
    Dataset,
    DatasetVersion,
    Project,
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
