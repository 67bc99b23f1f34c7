"""Reads of the technical cooperation components: the filters of the root connections,
their statements (the compiled path's too) and the fetches of the dataloaders.

Every record is visible exactly when its project is: each read joins Project and applies
`project_visible(principal)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible, visible_by_id
from server.core.db import group_rows
from server.core.validation import year_bounds
from server.models import (
    DispatchCounterpart,
    EquipmentItem,
    ExpertDispatch,
    Institution,
    Project,
    Researcher,
    TrainingCourse,
    TrainingParticipant,
)
from server.models.enums import CourseType, EquipmentStatus
from server.themes.queries import theme_subtree_ids


@dataclass
class DispatchFilter:
    project_id: int | None = None
    host_country: str | None = None
    theme_id: int | None = None
    year: int | None = None
    origin_country: str | None = None


@dataclass
class CourseFilter:
    project_id: int | None = None
    host_country: str | None = None
    course_type: CourseType | None = None
    year: int | None = None


@dataclass
class EquipmentFilter:
    project_id: int | None = None
    recipient_country: str | None = None
    status: EquipmentStatus | None = None
    year: int | None = None


def _visible(model: Any, principal: Principal) -> Select[Any]:
    return (
        select(model)
        .join(Project, Project.id == model.project_id)
        .where(project_visible(principal))
    )


def _active_in(start: Any, end: Any, year: int) -> ColumnElement[bool]:
    first_day, last_day = year_bounds(year)
    return and_(start <= last_day, or_(end.is_(None), end >= first_day))


def _institutions_in(country: str) -> Select[Any]:
    return select(Institution.id).where(Institution.country_code == country.strip().upper())


async def dispatches_query(
    session: AsyncSession, principal: Principal, flt: DispatchFilter | None
) -> Select[Any]:
    subtree = None
    if flt is not None and flt.theme_id is not None:
        subtree = await theme_subtree_ids(session, flt.theme_id)
    return dispatches_filtered(principal, flt, subtree)


def dispatches_filtered(
    principal: Principal, flt: DispatchFilter | None, subtree: Any = None
) -> Select[Any]:
    """The dispatches the principal may see that match the filter; `subtree` holds the
    theme filter's theme ids (or a select of them), given when the filter names a theme."""
    stmt = _visible(ExpertDispatch, principal)
    if flt is None:
        return stmt
    if flt.project_id is not None:
        stmt = stmt.where(ExpertDispatch.project_id == flt.project_id)
    if flt.host_country:
        stmt = stmt.where(
            ExpertDispatch.host_institution_id.in_(_institutions_in(flt.host_country))
        )
    if subtree is not None:
        stmt = stmt.where(ExpertDispatch.theme_id.in_(subtree))
    if flt.year is not None:
        stmt = stmt.where(_active_in(ExpertDispatch.start_date, ExpertDispatch.end_date, flt.year))
    if flt.origin_country:
        stmt = stmt.where(ExpertDispatch.origin_country == flt.origin_country.strip().upper())
    return stmt


def courses_query(principal: Principal, flt: CourseFilter | None) -> Select[Any]:
    stmt = _visible(TrainingCourse, principal)
    if flt is None:
        return stmt
    if flt.project_id is not None:
        stmt = stmt.where(TrainingCourse.project_id == flt.project_id)
    if flt.host_country:
        stmt = stmt.where(TrainingCourse.host_country == flt.host_country.strip().upper())
    if flt.course_type is not None:
        stmt = stmt.where(TrainingCourse.course_type == flt.course_type)
    if flt.year is not None:
        stmt = stmt.where(_active_in(TrainingCourse.start_date, TrainingCourse.end_date, flt.year))
    return stmt


def equipment_query(principal: Principal, flt: EquipmentFilter | None) -> Select[Any]:
    stmt = _visible(EquipmentItem, principal)
    if flt is None:
        return stmt
    if flt.project_id is not None:
        stmt = stmt.where(EquipmentItem.project_id == flt.project_id)
    if flt.recipient_country:
        stmt = stmt.where(
            EquipmentItem.recipient_institution_id.in_(_institutions_in(flt.recipient_country))
        )
    if flt.status is not None:
        stmt = stmt.where(EquipmentItem.status == flt.status)
    if flt.year is not None:  # delivered during that year
        first_day, last_day = year_bounds(flt.year)
        stmt = stmt.where(
            EquipmentItem.delivery_date >= first_day, EquipmentItem.delivery_date <= last_day
        )
    return stmt


# fetch(session, principal, ids) -> {id: row} for `loaders.one_visible` (node(id:), links).
async def dispatches_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, ExpertDispatch]:
    return await visible_by_id(session, principal, ExpertDispatch, ids)


async def courses_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, TrainingCourse]:
    return await visible_by_id(session, principal, TrainingCourse, ids)


async def equipment_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, EquipmentItem]:
    return await visible_by_id(session, principal, EquipmentItem, ids)


async def _by_project(
    session: AsyncSession,
    principal: Principal,
    model: Any,
    project_ids: Sequence[int],
    *order: Any,
) -> dict[int, list[Any]]:
    """The rows of `model` of the projects the principal may see, by `order` then id."""
    rows = await session.execute(
        select(model.project_id, model)
        .join(Project, Project.id == model.project_id)
        .where(model.project_id.in_(project_ids), project_visible(principal))
        .order_by(*order, model.id)
    )
    return group_rows(rows)


# fetch(session, principal, project_ids) -> {project_id: [rows]} for `loaders.many_visible`.
async def dispatches_by_project(
    session: AsyncSession, principal: Principal, project_ids: Sequence[int]
) -> dict[int, list[ExpertDispatch]]:
    return await _by_project(
        session, principal, ExpertDispatch, project_ids, ExpertDispatch.start_date
    )


async def courses_by_project(
    session: AsyncSession, principal: Principal, project_ids: Sequence[int]
) -> dict[int, list[TrainingCourse]]:
    return await _by_project(
        session, principal, TrainingCourse, project_ids, TrainingCourse.start_date
    )


async def equipment_by_project(
    session: AsyncSession, principal: Principal, project_ids: Sequence[int]
) -> dict[int, list[EquipmentItem]]:
    return await _by_project(session, principal, EquipmentItem, project_ids)


async def counterparts_by_dispatch(
    session: AsyncSession, dispatch_ids: Sequence[int]
) -> dict[int, list[Researcher]]:
    """Counterparts of dispatches the caller already sees (researchers are public)."""
    rows = await session.execute(
        select(DispatchCounterpart.dispatch_id, Researcher)
        .join(Researcher, Researcher.id == DispatchCounterpart.researcher_id)
        .where(DispatchCounterpart.dispatch_id.in_(dispatch_ids))
        .order_by(Researcher.id)
    )
    return group_rows(rows)


async def participants_by_course(
    session: AsyncSession, course_ids: Sequence[int]
) -> dict[int, list[tuple[TrainingParticipant, Researcher]]]:
    """Participants of courses the caller already sees (researchers are public)."""
    rows = await session.execute(
        select(TrainingParticipant.course_id, TrainingParticipant, Researcher)
        .join(Researcher, Researcher.id == TrainingParticipant.researcher_id)
        .where(TrainingParticipant.course_id.in_(course_ids))
        .order_by(Researcher.id)
    )
    return group_rows(rows)
