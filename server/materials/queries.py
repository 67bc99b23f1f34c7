"""Reads of the learning materials: the filter and statement of the root connection (the
compiled path's too) and the fetches of the dataloaders. A material is visible iff its
project is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible, visible_by_id
from server.core.db import group_rows
from server.materials.languages import normalize_language
from server.models import LearningMaterial, Project
from server.models.enums import MaterialKind
from server.projects.queries import in_partner_country, in_theme


@dataclass
class MaterialFilter:
    project_id: int | None = None
    language: str | None = None
    kind: MaterialKind | None = None
    theme_id: int | None = None
    country: str | None = None
    year: int | None = None


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
