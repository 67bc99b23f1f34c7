"""The root connections of the technical cooperation components."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, optional_id, page_args
from schema.context import Info
from schema.cooperation.types import (
    EquipmentItem,
    EquipmentItemFilter,
    ExpertDispatch,
    ExpertDispatchFilter,
    TrainingCourse,
    TrainingCourseFilter,
)
from schema.records import page
from server import models
from server.access.auth import Principal
from server.cooperation import queries


def _project_id(
    flt: ExpertDispatchFilter | TrainingCourseFilter | EquipmentItemFilter,
) -> int | None:
    return optional_id(flt.project_id, "Project", "filter.projectId")


@strawberry.type
class CooperationQueries:
    @strawberry.field
    async def expert_dispatches(
        self,
        info: Info,
        filter: ExpertDispatchFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ExpertDispatch] | None:
        async def statement(session: AsyncSession, principal: Principal) -> Select[Any]:
            flt = None
            if filter is not None:
                flt = queries.DispatchFilter(
                    project_id=_project_id(filter),
                    host_country=filter.host_country,
                    theme_id=optional_id(filter.theme_id, "Theme", "filter.themeId"),
                    year=filter.year,
                    origin_country=filter.origin_country,
                )
            return await queries.dispatches_query(session, principal, flt)

        args = page_args(first, after, last, before)
        return await page(info, statement, models.ExpertDispatch.id, args, ExpertDispatch.from_row)

    @strawberry.field
    async def training_courses(
        self,
        info: Info,
        filter: TrainingCourseFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TrainingCourse] | None:
        async def statement(session: AsyncSession, principal: Principal) -> Select[Any]:
            flt = None
            if filter is not None:
                flt = queries.CourseFilter(
                    project_id=_project_id(filter),
                    host_country=filter.host_country,
                    course_type=filter.course_type,
                    year=filter.year,
                )
            return queries.courses_query(principal, flt)

        args = page_args(first, after, last, before)
        return await page(info, statement, models.TrainingCourse.id, args, TrainingCourse.from_row)

    @strawberry.field
    async def equipment_items(
        self,
        info: Info,
        filter: EquipmentItemFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[EquipmentItem] | None:
        async def statement(session: AsyncSession, principal: Principal) -> Select[Any]:
            flt = None
            if filter is not None:
                flt = queries.EquipmentFilter(
                    project_id=_project_id(filter),
                    recipient_country=filter.recipient_country,
                    status=filter.status,
                    year=filter.year,
                )
            return queries.equipment_query(principal, flt)

        args = page_args(first, after, last, before)
        return await page(info, statement, models.EquipmentItem.id, args, EquipmentItem.from_row)
