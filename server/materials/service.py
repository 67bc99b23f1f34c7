"""Learning materials: the seminar materials and digital contents a project produces (the
JICA-Net library of the seed), catalogued with language, audience and licence.

The files themselves go through the upload pipeline (issue 4) once it exists: a material
will then get its file objects there. Until then a material is a catalogue record with an
optional link (`url`) and no file fields.

Reads follow the project: a material is visible iff its project is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pycountry
from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access.visibility import project_visible, visible_by_id
from server.core.db import group_rows, utcnow
from server.core.errors import Collector, DomainError, NotFound
from server.core.validation import check_url, clean_text, normalize_licence
from server.models import LearningMaterial, Project
from server.models.enums import MaterialKind
from server.projects.queries import in_partner_country, in_theme
from server.projects.service import require_project_editor, visible_project

LICENCE_MAX = 100  # learning_materials.licence is String(100)


@dataclass
class MaterialFilter:
    project_id: int | None = None
    language: str | None = None
    kind: MaterialKind | None = None
    theme_id: int | None = None
    country: str | None = None
    year: int | None = None


def normalize_language(value: str) -> str | None:
    """An ISO 639 code as stored: the 639-1 two-letter code when the language has one
    (so "eng" and "en" are the same language), else its 639-3 code; None if unknown.
    Accepts 639-1, 639-3 and 639-2/B (bibliographic, e.g. "fre") codes, any case."""
    code = value.strip().lower()
    language = None
    if len(code) == 2 and code.isalpha():
        language = pycountry.languages.get(alpha_2=code)
    elif len(code) == 3 and code.isalpha():
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(
            bibliographic=code
        )
    if language is None:
        return None
    return getattr(language, "alpha_2", None) or language.alpha_3


def language_name(code: str) -> str | None:
    language = pycountry.languages.get(**{"alpha_2" if len(code) == 2 else "alpha_3": code})
    return language.name if language is not None else None


# ---- reads -------------------------------------------------------------------------


async def materials_query(
    session: AsyncSession, principal: Principal, flt: MaterialFilter | None
) -> Select[Any]:
    themed = None
    if flt is not None and flt.theme_id is not None:
        themed = await in_theme(session, flt.theme_id)
    return materials_filtered(principal, flt, themed)


def materials_filtered(
    principal: Principal, flt: MaterialFilter | None, themed: ColumnElement[bool] | None = None
) -> Select[Any]:
    """The materials the principal may see that match the filter; `themed` is the theme
    filter's clause over projects, given when the filter names a theme. `year`: the
    material was catalogued that year, or its project was active that year."""
    stmt = (
        select(LearningMaterial)
        .join(Project, Project.id == LearningMaterial.project_id)
        .where(project_visible(principal))
    )
    if flt is None:
        return stmt
    if flt.project_id is not None:
        stmt = stmt.where(LearningMaterial.project_id == flt.project_id)
    if flt.language:
        # an unknown code matches nothing rather than failing the query
        stmt = stmt.where(
            LearningMaterial.language == (normalize_language(flt.language) or flt.language)
        )
    if flt.kind is not None:
        stmt = stmt.where(LearningMaterial.kind == flt.kind)
    if themed is not None:
        stmt = stmt.where(themed)
    if flt.country:
        stmt = stmt.where(in_partner_country(flt.country))
    if flt.year is not None:
        first_day, last_day = dt.date(flt.year, 1, 1), dt.date(flt.year, 12, 31)
        start = dt.datetime(flt.year, 1, 1, tzinfo=dt.UTC)
        stmt = stmt.where(
            or_(
                and_(
                    LearningMaterial.created_at >= start,
                    LearningMaterial.created_at < start.replace(year=flt.year + 1),
                ),
                and_(
                    Project.start_date <= last_day,
                    or_(Project.end_date.is_(None), Project.end_date >= first_day),
                ),
            )
        )
    return stmt


async def materials_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, LearningMaterial]:
    return await visible_by_id(session, principal, LearningMaterial, ids)


async def materials_by_project(
    session: AsyncSession, principal: Principal, project_ids: Sequence[int]
) -> dict[int, list[LearningMaterial]]:
    rows = await session.execute(
        select(LearningMaterial.project_id, LearningMaterial)
        .join(Project, Project.id == LearningMaterial.project_id)
        .where(LearningMaterial.project_id.in_(project_ids), project_visible(principal))
        .order_by(LearningMaterial.id)
    )
    return group_rows(rows)


# ---- operations --------------------------------------------------------------------


def _check_fields(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    errors = Collector()
    out: dict[str, Any] = {}
    if creating or "title" in values:
        out["title"] = clean_text(errors, "title", values.get("title"), max_len=500, required=True)
    if creating or "kind" in values:
        if values.get("kind") is None:
            errors.add("REQUIRED", "kind is required", "kind")
        out["kind"] = values.get("kind")
    if creating or "language" in values:
        raw = clean_text(errors, "language", values.get("language"), max_len=100, required=True)
        code = normalize_language(raw) if raw else None
        if raw and code is None:
            errors.add(
                "INVALID_LANGUAGE",
                "language must be an ISO 639-1 (two-letter) or ISO 639-3 (three-letter) code",
                "language",
            )
        out["language"] = code
    if "audience" in values:
        out["audience"] = clean_text(errors, "audience", values["audience"], max_len=200)
    if creating or "licence" in values:
        raw = clean_text(errors, "licence", values.get("licence"), max_len=500, required=True)
        expression = normalize_licence(raw) if raw else None
        if raw and expression is None:
            errors.add("INVALID_LICENCE", "licence must be an SPDX license expression", "licence")
        elif expression is not None and len(expression) > LICENCE_MAX:
            errors.add("TOO_LONG", f"licence is longer than {LICENCE_MAX} characters", "licence")
        out["licence"] = expression
    if "url" in values:
        out["url"] = check_url(errors, "url", values["url"])
    errors.raise_if_any()
    return out


async def add_material(
    session: AsyncSession, principal: Principal, project_id: int, values: dict[str, Any]
) -> LearningMaterial:
    """`values`: title, kind, language, licence, audience?, url?."""
    require_signed_in(principal)
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    material = LearningMaterial(project_id=project.id, **_check_fields(values, creating=True))
    session.add(material)
    project.updated_at = utcnow()
    await session.flush()
    return material


async def update_material(
    session: AsyncSession, principal: Principal, material_id: int, values: dict[str, Any]
) -> LearningMaterial:
    require_signed_in(principal)
    row = (
        await session.execute(
            select(LearningMaterial, Project)
            .join(Project, Project.id == LearningMaterial.project_id)
            .where(LearningMaterial.id == material_id, project_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound("learning material")
    material, project = row
    await require_project_editor(session, principal, project)
    fields = _check_fields(values, creating=False)
    if not fields:
        raise DomainError.one("NOTHING_TO_UPDATE", "no field to update was given")
    for key, value in fields.items():
        setattr(material, key, value)
    project.updated_at = utcnow()
    await session.flush()
    return material
