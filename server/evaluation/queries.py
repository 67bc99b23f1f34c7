"""Reads of monitoring and evaluation: the records' filter and statements (the compiled
path's too) and the fetches of the dataloaders. A record is visible exactly when its project
is (every query joins Project and applies `project_visible`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible, visible_by_id
from server.core.db import group_rows
from server.core.validation import year_bounds
from server.models import Project
from server.models.cooperation import (
    Evaluation,
    FollowUpCooperation,
    JccMeeting,
    LessonLearned,
    MonitoringReport,
)
from server.models.enums import EvaluationKind
from server.projects.queries import in_partner_country, in_theme


@dataclass
class RecordFilter:
    project_id: int | None = None
    theme_id: int | None = None
    country: str | None = None
    year: int | None = None
    kind: EvaluationKind | None = None
    evaluation_id: int | None = None
    text: str | None = None


def _visible(model: Any, principal: Principal) -> Select[Any]:
    return (
        select(model)
        .join(Project, Project.id == model.project_id)
        .where(project_visible(principal))
    )


def _in_year(model: Any, year: int) -> Any:
    """The record's date (or period) falls in / overlaps the calendar year."""
    first, last = year_bounds(year)
    if model is JccMeeting:
        return JccMeeting.held_on.between(first, last)
    if model is Evaluation:
        return Evaluation.evaluated_on.between(first, last)
    if model is MonitoringReport:
        return (MonitoringReport.period_start <= last) & (MonitoringReport.period_end >= first)
    if model is FollowUpCooperation:
        return (FollowUpCooperation.start_date <= last) & or_(
            FollowUpCooperation.end_date.is_(None), FollowUpCooperation.end_date >= first
        )
    raise ValueError(f"no year filter for {model.__name__}")


async def records_query(
    session: AsyncSession, principal: Principal, model: Any, flt: RecordFilter | None
) -> Select[Any]:
    """The records of `model` the principal may see, narrowed by the filter."""
    themed = None
    if flt is not None and flt.theme_id is not None:
        themed = await in_theme(session, flt.theme_id)
    return records_filtered(principal, model, flt, themed)


def records_filtered(
    principal: Principal,
    model: Any,
    flt: RecordFilter | None,
    themed: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """`records_query` given the theme filter's clause over projects (`themed`, when the
    filter names a theme)."""
    stmt = _visible(model, principal)
    if flt is None:
        return stmt
    if flt.project_id is not None:
        stmt = stmt.where(model.project_id == flt.project_id)
    if themed is not None:
        stmt = stmt.where(themed)
    if flt.country:
        stmt = stmt.where(in_partner_country(flt.country))
    if flt.year is not None:
        stmt = stmt.where(_in_year(model, flt.year))
    if flt.kind is not None and model is Evaluation:
        stmt = stmt.where(Evaluation.kind == flt.kind)
    if flt.evaluation_id is not None and model is LessonLearned:
        stmt = stmt.where(LessonLearned.evaluation_id == flt.evaluation_id)
    if flt.text and flt.text.strip() and model is LessonLearned:
        # A case-insensitive substring match for now (ILIKE on PostgreSQL, lower() LIKE on
        # SQLite, which folds ASCII only); full-text search comes with a later issue.
        stmt = stmt.where(LessonLearned.text.icontains(flt.text.strip(), autoescape=True))
    return stmt


# fetch(session, principal, ids) -> {id: row} for `loaders.one_visible` (node(id:), links).
async def jcc_meetings_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, JccMeeting]:
    return await visible_by_id(session, principal, JccMeeting, ids)


async def monitoring_reports_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, MonitoringReport]:
    return await visible_by_id(session, principal, MonitoringReport, ids)


async def evaluations_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, Evaluation]:
    return await visible_by_id(session, principal, Evaluation, ids)


async def lessons_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, LessonLearned]:
    return await visible_by_id(session, principal, LessonLearned, ids)


async def follow_ups_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, FollowUpCooperation]:
    return await visible_by_id(session, principal, FollowUpCooperation, ids)


# fetch(session, project_ids) -> {project_id: [rows]}: fields of a project already visible.
async def _by_project(
    session: AsyncSession, model: Any, project_ids: Sequence[int], *order: Any
) -> dict[int, list[Any]]:
    rows = await session.execute(
        select(model.project_id, model)
        .where(model.project_id.in_(project_ids))
        .order_by(*order, model.id)
    )
    return group_rows(rows)


async def jcc_meetings_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[JccMeeting]]:
    return await _by_project(session, JccMeeting, project_ids, JccMeeting.held_on)


async def monitoring_reports_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[MonitoringReport]]:
    return await _by_project(session, MonitoringReport, project_ids, MonitoringReport.period_start)


async def evaluations_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[Evaluation]]:
    return await _by_project(session, Evaluation, project_ids, Evaluation.evaluated_on)


async def lessons_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[LessonLearned]]:
    return await _by_project(session, LessonLearned, project_ids)


async def follow_ups_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[FollowUpCooperation]]:
    return await _by_project(
        session, FollowUpCooperation, project_ids, FollowUpCooperation.start_date
    )


async def lessons_by_evaluation(
    session: AsyncSession, evaluation_ids: Sequence[int]
) -> dict[int, list[LessonLearned]]:
    rows = await session.execute(
        select(LessonLearned.evaluation_id, LessonLearned)
        .where(LessonLearned.evaluation_id.in_(evaluation_ids))
        .order_by(LessonLearned.id)
    )
    return group_rows(rows)
