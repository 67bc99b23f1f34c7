"""What OAI-PMH reads: the public records (`public_records`) by datestamp, a page at a time by
keyset on (datestamp, version id), filtered by date and set; the sets themselves (themes,
projects, partner countries) and each record's.

A set is `theme:<code>`, `project:<id>` or `country:<ISO 3166-1 alpha-2>`. A record belongs
to the sets of its dataset as they stand (a deleted record too, so a harvester of a set
hears of its withdrawal)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Integer, Select, exists, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.access.visibility import PUBLIC_PHASES
from server.core.db import UTCDateTime
from server.models import (
    Dataset,
    DatasetTheme,
    LanguageText,
    Project,
    ProjectCountry,
    PublicRecord,
    Theme,
)
from server.publishing.record import Text, pick

SET_KINDS = ("theme", "project", "country")


@dataclass(frozen=True)
class Window:
    """Which records a list request covers: datestamps in [start, end) and at most `bound`
    (the moment the harvest began: what is stamped later waits for the next harvest), after
    the keyset position `after` (datestamp, version id) of the previous page, in `set_spec`."""

    start: dt.datetime | None
    end: dt.datetime | None
    bound: dt.datetime
    set_spec: str | None = None
    after: tuple[dt.datetime, int] | None = None


@dataclass(frozen=True)
class Header:
    version_id: int
    dataset_id: int
    datestamp: dt.datetime
    deleted: bool


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str


def _in_set(set_spec: str) -> ColumnElement[bool] | None:
    """The set's rule over PublicRecord, or None for a spec that names no set."""
    kind, _, key = set_spec.partition(":")
    if kind == "theme" and key:
        return PublicRecord.dataset_id.in_(
            select(DatasetTheme.dataset_id)
            .join(Theme, Theme.id == DatasetTheme.theme_id)
            .where(Theme.code == key)
        )
    if kind == "project" and key.isdigit():
        return PublicRecord.dataset_id.in_(select(Dataset.id).where(Dataset.project_id == int(key)))
    if kind == "country" and len(key) == 2 and key.isalpha():
        return PublicRecord.dataset_id.in_(
            select(Dataset.id)
            .join(ProjectCountry, ProjectCountry.project_id == Dataset.project_id)
            .where(ProjectCountry.country_code == key.upper())
        )
    return None


def _filtered[*Ts](query: Select[*Ts], window: Window) -> Select[*Ts] | None:
    conditions: list[ColumnElement[bool]] = [PublicRecord.datestamp <= window.bound]
    if window.start is not None:
        conditions.append(PublicRecord.datestamp >= window.start)
    if window.end is not None:
        conditions.append(PublicRecord.datestamp < window.end)
    if window.set_spec is not None:
        rule = _in_set(window.set_spec)
        if rule is None:
            return None
        conditions.append(rule)
    return query.where(*conditions)


async def page(session: AsyncSession, window: Window, size: int) -> list[Header]:
    """Up to `size` headers after `window.after`, by (datestamp, version id)."""
    query = _filtered(
        select(
            PublicRecord.version_id,
            PublicRecord.dataset_id,
            PublicRecord.datestamp,
            PublicRecord.deleted,
        ),
        window,
    )
    if query is None:
        return []
    if window.after is not None:
        stamp, version_id = window.after
        # a row comparison both databases take as an index range on (datestamp, version_id),
        # with the datestamp alone as a plain bound for planners that do not
        query = query.where(
            PublicRecord.datestamp >= stamp,
            tuple_(PublicRecord.datestamp, PublicRecord.version_id)
            > tuple_(stamp, version_id, types=[UTCDateTime(), Integer()]),
        )
    rows = await session.execute(
        query.order_by(PublicRecord.datestamp, PublicRecord.version_id).limit(size)
    )
    return [Header(v, d, s, bool(deleted)) for v, d, s, deleted in rows]


async def count(session: AsyncSession, window: Window) -> int:
    """How many records the window holds (its keyset position ignored)."""
    query = _filtered(select(func.count()).select_from(PublicRecord), window)
    return 0 if query is None else int(await session.scalar(query) or 0)


async def header(session: AsyncSession, version_id: int) -> Header | None:
    row = await session.get(PublicRecord, version_id)
    if row is None:
        return None
    return Header(row.version_id, row.dataset_id, row.datestamp, row.deleted)


async def earliest(session: AsyncSession) -> dt.datetime | None:
    return await session.scalar(select(func.min(PublicRecord.datestamp)))


async def set_specs(session: AsyncSession, dataset_ids: Sequence[int]) -> dict[int, list[str]]:
    """{dataset id: its set specs} (themes, then the project, then its countries)."""
    ids = sorted(set(dataset_ids))
    if not ids:
        return {}
    found: dict[int, list[str]] = {i: [] for i in ids}
    themes = await session.execute(
        select(DatasetTheme.dataset_id, Theme.code)
        .join(Theme, Theme.id == DatasetTheme.theme_id)
        .where(DatasetTheme.dataset_id.in_(ids))
        .order_by(DatasetTheme.dataset_id, Theme.code)
    )
    for dataset_id, code in themes:
        found[dataset_id].append(f"theme:{code}")
    places = await session.execute(
        select(Dataset.id, Dataset.project_id, ProjectCountry.country_code)
        .outerjoin(ProjectCountry, ProjectCountry.project_id == Dataset.project_id)
        .where(Dataset.id.in_(ids))
        .order_by(Dataset.id, ProjectCountry.country_code)
    )
    for dataset_id, project_id, country in places:
        spec = f"project:{project_id}"
        if spec not in found[dataset_id]:
            found[dataset_id].append(spec)
        if country:
            found[dataset_id].append(f"country:{country}")
    return found


async def sets(session: AsyncSession) -> list[OaiSet]:
    """Every theme; the projects with a record the public may see, and their countries."""
    themes = (await session.scalars(select(Theme).order_by(Theme.code))).all()
    theme_names = await _names(session, LanguageText.theme_id, [t.id for t in themes], "name")
    shown = exists().where(
        PublicRecord.dataset_id == Dataset.id,
        Dataset.project_id == Project.id,
        PublicRecord.deleted.is_(False),
    )
    projects = (
        await session.scalars(
            select(Project).where(shown, Project.phase.in_(PUBLIC_PHASES)).order_by(Project.id)
        )
    ).all()
    titles = await _names(session, LanguageText.project_id, [p.id for p in projects], "title")
    countries = (
        await session.scalars(
            select(ProjectCountry.country_code)
            .where(ProjectCountry.project_id.in_([p.id for p in projects]))
            .distinct()
            .order_by(ProjectCountry.country_code)
        )
    ).all()
    return [
        *(OaiSet(f"theme:{t.code}", theme_names.get(t.id) or t.name) for t in themes),
        *(OaiSet(f"project:{p.id}", titles.get(p.id) or p.title) for p in projects),
        *(OaiSet(f"country:{c}", c) for c in countries),
    ]


async def _names(
    session: AsyncSession, column: InstrumentedAttribute[int | None], ids: list[int], name: str
) -> dict[int, str]:
    """{owner id: its value in English, else the original} of one language-tagged field."""
    if not ids:
        return {}
    rows = await session.execute(
        select(column, LanguageText.lang, LanguageText.value, LanguageText.original)
        .where(column.in_(ids), LanguageText.field == name)
        .order_by(LanguageText.position, LanguageText.id)
    )
    texts: dict[int, list[Text]] = {}
    for owner_id, lang, value, original in rows:
        if owner_id is not None:
            texts.setdefault(owner_id, []).append(Text(lang, value, bool(original)))
    return {k: chosen.value for k, v in texts.items() if (chosen := pick(v, "en"))}
