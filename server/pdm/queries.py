"""Reads of the Project Design Matrix: the indicators' filter and statement (the compiled
path's too) and the fetches of the dataloaders. An element, indicator or measurement is
visible iff its project is (`project_visible`, joined into every query).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible, visible_by_id
from server.core.db import group_rows
from server.models import (
    Indicator,
    IndicatorMeasurement,
    PdmElement,
    Project,
)
from server.models.enums import PdmLevel
from server.projects.queries import in_partner_country, in_theme


@dataclass
class IndicatorFilter:
    project_id: int | None = None
    theme_id: int | None = None
    country: str | None = None
    level: PdmLevel | None = None


async def indicators_query(
    session: AsyncSession, principal: Principal, flt: IndicatorFilter | None
) -> Select[Any]:
    themed = None
    if flt is not None and flt.theme_id is not None:
        themed = await in_theme(session, flt.theme_id)
    return indicators_filtered(principal, flt, themed)


def indicators_filtered(
    principal: Principal, flt: IndicatorFilter | None, themed: ColumnElement[bool] | None = None
) -> Select[Any]:
    """The indicators the principal may see that match the filter; `themed` is the theme
    filter's clause over projects, given when the filter names a theme."""
    stmt = (
        select(Indicator)
        .join(PdmElement, PdmElement.id == Indicator.element_id)
        .join(Project, Project.id == PdmElement.project_id)
        .where(project_visible(principal))
    )
    if flt is None:
        return stmt
    if flt.project_id is not None:
        stmt = stmt.where(PdmElement.project_id == flt.project_id)
    if flt.level is not None:
        stmt = stmt.where(PdmElement.level == flt.level)
    if themed is not None:
        stmt = stmt.where(themed)
    if flt.country:
        stmt = stmt.where(in_partner_country(flt.country))
    return stmt


async def elements_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, PdmElement]:
    return await visible_by_id(session, principal, PdmElement, ids)


async def indicators_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, Indicator]:
    rows = await session.scalars(
        select(Indicator)
        .join(PdmElement, PdmElement.id == Indicator.element_id)
        .join(Project, Project.id == PdmElement.project_id)
        .where(Indicator.id.in_(ids), project_visible(principal))
    )
    return {row.id: row for row in rows}


async def elements_by_project(
    session: AsyncSession, principal: Principal, project_ids: Sequence[int]
) -> dict[int, list[PdmElement]]:
    rows = await session.execute(
        select(PdmElement.project_id, PdmElement)
        .join(Project, Project.id == PdmElement.project_id)
        .where(PdmElement.project_id.in_(project_ids), project_visible(principal))
        .order_by(PdmElement.position, PdmElement.id)
    )
    return group_rows(rows)


async def children_by_element(
    session: AsyncSession, principal: Principal, parent_ids: Sequence[int]
) -> dict[int, list[PdmElement]]:
    rows = await session.execute(
        select(PdmElement.parent_id, PdmElement)
        .join(Project, Project.id == PdmElement.project_id)
        .where(PdmElement.parent_id.in_(parent_ids), project_visible(principal))
        .order_by(PdmElement.position, PdmElement.id)
    )
    return group_rows(rows)


async def indicators_by_element(
    session: AsyncSession, principal: Principal, element_ids: Sequence[int]
) -> dict[int, list[Indicator]]:
    rows = await session.execute(
        select(Indicator.element_id, Indicator)
        .join(PdmElement, PdmElement.id == Indicator.element_id)
        .join(Project, Project.id == PdmElement.project_id)
        .where(Indicator.element_id.in_(element_ids), project_visible(principal))
        .order_by(Indicator.id)
    )
    return group_rows(rows)


async def measurements_by_indicator(
    session: AsyncSession, principal: Principal, indicator_ids: Sequence[int]
) -> dict[int, list[IndicatorMeasurement]]:
    """Measurements oldest first (by date, then by recording order)."""
    rows = await session.execute(
        select(IndicatorMeasurement.indicator_id, IndicatorMeasurement)
        .join(Indicator, Indicator.id == IndicatorMeasurement.indicator_id)
        .join(PdmElement, PdmElement.id == Indicator.element_id)
        .join(Project, Project.id == PdmElement.project_id)
        .where(IndicatorMeasurement.indicator_id.in_(indicator_ids), project_visible(principal))
        .order_by(IndicatorMeasurement.measured_on, IndicatorMeasurement.id)
    )
    return group_rows(rows)
