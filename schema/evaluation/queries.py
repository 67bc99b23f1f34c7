"""The root connections of monitoring and evaluation: one generic resolver for the five
record types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, decode_id, page_args
from schema.context import Info
from schema.evaluation.types import (
    Evaluation,
    EvaluationFilter,
    FollowUpCooperation,
    FollowUpCooperationFilter,
    JccMeeting,
    JccMeetingFilter,
    LessonLearned,
    LessonLearnedFilter,
    MonitoringReport,
    MonitoringReportFilter,
)
from schema.records import page
from server.access.auth import Principal
from server.core.pagination import PageArgs
from server.evaluation import queries
from server.models import cooperation as models

T = TypeVar("T")
RecordFilterInput = (
    JccMeetingFilter
    | MonitoringReportFilter
    | EvaluationFilter
    | LessonLearnedFilter
    | FollowUpCooperationFilter
)


def _record_filter(flt: RecordFilterInput | None) -> queries.RecordFilter | None:
    if flt is None:
        return None

    def gid(name: str, type_name: str) -> int | None:
        value = getattr(flt, name, None)
        field = "filter." + name.replace("_id", "Id")
        return decode_id(value, type_name, field) if value is not None else None

    return queries.RecordFilter(
        project_id=gid("project_id", "Project"),
        theme_id=gid("theme_id", "Theme"),
        evaluation_id=gid("evaluation_id", "Evaluation"),
        country=flt.country,
        year=getattr(flt, "year", None),
        kind=getattr(flt, "kind", None),
        text=getattr(flt, "text", None),
    )


async def _records(
    info: Info,
    model: Any,
    flt: RecordFilterInput | None,
    args: PageArgs,
    convert: Callable[[Any], T],
) -> Connection[T]:
    async def statement(session: AsyncSession, principal: Principal) -> Select[Any]:
        return await queries.records_query(session, principal, model, _record_filter(flt))

    return await page(info, statement, model.id, args, convert)


@strawberry.type
class EvaluationQueries:
    @strawberry.field(description="Joint Coordinating Committee meetings, in creation order")
    async def jcc_meetings(
        self,
        info: Info,
        filter: JccMeetingFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[JccMeeting] | None:
        return await _records(
            info,
            models.JccMeeting,
            filter,
            page_args(first, after, last, before),
            JccMeeting.from_row,
        )

    @strawberry.field
    async def monitoring_reports(
        self,
        info: Info,
        filter: MonitoringReportFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[MonitoringReport] | None:
        return await _records(
            info,
            models.MonitoringReport,
            filter,
            page_args(first, after, last, before),
            MonitoringReport.from_row,
        )

    @strawberry.field
    async def evaluations(
        self,
        info: Info,
        filter: EvaluationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Evaluation] | None:
        return await _records(
            info,
            models.Evaluation,
            filter,
            page_args(first, after, last, before),
            Evaluation.from_row,
        )

    @strawberry.field(
        description="Lessons learned across projects; `filter.text` is a case-insensitive"
        " substring match for now (full-text search comes with a later issue)"
    )
    async def lessons_learned(
        self,
        info: Info,
        filter: LessonLearnedFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[LessonLearned] | None:
        return await _records(
            info,
            models.LessonLearned,
            filter,
            page_args(first, after, last, before),
            LessonLearned.from_row,
        )

    @strawberry.field
    async def follow_up_cooperations(
        self,
        info: Info,
        filter: FollowUpCooperationFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[FollowUpCooperation] | None:
        return await _records(
            info,
            models.FollowUpCooperation,
            filter,
            page_args(first, after, last, before),
            FollowUpCooperation.from_row,
        )
