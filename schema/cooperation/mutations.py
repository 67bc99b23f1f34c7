"""The mutations of the technical cooperation components; the rules live in
server/cooperation/service.py."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id, optional_id
from schema.context import Info
from schema.cooperation.types import (
    AddTrainingParticipantInput,
    CreateEquipmentItemInput,
    CreateExpertDispatchInput,
    CreateTrainingCourseInput,
    EquipmentItem,
    EquipmentItemPayload,
    ExpertDispatch,
    ExpertDispatchPayload,
    TrainingCourse,
    TrainingCoursePayload,
    UpdateEquipmentStatusInput,
    UpdateTrainingCourseInput,
)
from schema.inputs import given
from schema.payloads import payload
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.cooperation import service

COURSE_FIELDS = (
    "title",
    "course_type",
    "host_country",
    "start_date",
    "end_date",
    "outcome_notes",
)


def _course_values(
    input: CreateTrainingCourseInput | UpdateTrainingCourseInput,
) -> dict[str, Any]:
    """The fields sent, the language-tagged lists as the service takes them (on creation a
    null title, outcome notes or list is not sent)."""
    values = given(input, *COURSE_FIELDS)
    for name, items in given(input, "titles", "outcome_notes_texts").items():
        values[name] = text_values(items)
    if isinstance(input, CreateTrainingCourseInput):
        unsent = ("title", "titles", "outcome_notes", "outcome_notes_texts")
        values = {k: v for k, v in values.items() if v is not None or k not in unsent}
    return values


def _expert_dispatch(row: models.ExpertDispatch) -> ExpertDispatchPayload:
    return ExpertDispatchPayload(expert_dispatch=ExpertDispatch.from_row(row))


def _training_course(row: models.TrainingCourse) -> TrainingCoursePayload:
    return TrainingCoursePayload(training_course=TrainingCourse.from_row(row))


def _equipment_item(row: models.EquipmentItem) -> EquipmentItemPayload:
    return EquipmentItemPayload(equipment_item=EquipmentItem.from_row(row))


@strawberry.type
class CooperationMutations:
    @strawberry.mutation
    async def create_expert_dispatch(
        self, info: Info, input: CreateExpertDispatchInput
    ) -> ExpertDispatchPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.ExpertDispatch:
            values = {
                "expert_id": decode_id(input.expert_id, "Researcher", "expertId"),
                "origin_country": input.origin_country,
                "host_institution_id": decode_id(
                    input.host_institution_id, "Institution", "hostInstitutionId"
                ),
                "theme_id": optional_id(input.theme_id, "Theme", "themeId"),
                "start_date": input.start_date,
                "end_date": input.end_date,
                "purpose": input.purpose,
                "counterpart_ids": [
                    decode_id(gid, "Researcher", "counterpartIds") for gid in input.counterpart_ids
                ],
            }
            project_id = decode_id(input.project_id, "Project", "projectId")
            return await service.create_expert_dispatch(session, principal, project_id, values)

        return await payload(info, op, ExpertDispatchPayload, _expert_dispatch)

    @strawberry.mutation
    async def create_training_course(
        self, info: Info, input: CreateTrainingCourseInput
    ) -> TrainingCoursePayload:
        async def op(session: AsyncSession, principal: Principal) -> models.TrainingCourse:
            values = _course_values(input)
            values["host_institution_id"] = optional_id(
                input.host_institution_id, "Institution", "hostInstitutionId"
            )
            project_id = decode_id(input.project_id, "Project", "projectId")
            return await service.create_training_course(session, principal, project_id, values)

        return await payload(info, op, TrainingCoursePayload, _training_course)

    @strawberry.mutation(description="Change a course; fields left out stay as they are")
    async def update_training_course(
        self, info: Info, input: UpdateTrainingCourseInput
    ) -> TrainingCoursePayload:
        async def op(session: AsyncSession, principal: Principal) -> models.TrainingCourse:
            values = _course_values(input)
            if input.host_institution_id is not strawberry.UNSET:
                values["host_institution_id"] = optional_id(
                    input.host_institution_id, "Institution", "hostInstitutionId"
                )
            course_id = decode_id(input.id, "TrainingCourse", "id")
            return await service.update_training_course(session, principal, course_id, values)

        return await payload(info, op, TrainingCoursePayload, _training_course)

    @strawberry.mutation
    async def add_training_participant(
        self, info: Info, input: AddTrainingParticipantInput
    ) -> TrainingCoursePayload:
        async def op(session: AsyncSession, principal: Principal) -> models.TrainingCourse:
            course_id = decode_id(input.course_id, "TrainingCourse", "courseId")
            await service.add_training_participant(
                session,
                principal,
                course_id,
                decode_id(input.researcher_id, "Researcher", "researcherId"),
                decode_id(input.institution_id, "Institution", "institutionId"),
            )
            return await session.get_one(models.TrainingCourse, course_id)

        return await payload(info, op, TrainingCoursePayload, _training_course)

    @strawberry.mutation
    async def create_equipment_item(
        self, info: Info, input: CreateEquipmentItemInput
    ) -> EquipmentItemPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.EquipmentItem:
            values = {
                "item": input.item,
                "category": input.category,
                "quantity": input.quantity,
                "value": input.value,
                "currency": input.currency,
                "recipient_institution_id": decode_id(
                    input.recipient_institution_id, "Institution", "recipientInstitutionId"
                ),
                "delivery_date": input.delivery_date,
                "status": input.status,
            }
            project_id = decode_id(input.project_id, "Project", "projectId")
            return await service.create_equipment_item(session, principal, project_id, values)

        return await payload(info, op, EquipmentItemPayload, _equipment_item)

    @strawberry.mutation(
        description="ordered -> delivered or in_use; delivered -> in_use or out_of_service;"
        " in_use <-> out_of_service. A delivery date is needed past ordered."
    )
    async def update_equipment_status(
        self, info: Info, input: UpdateEquipmentStatusInput
    ) -> EquipmentItemPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.EquipmentItem:
            return await service.update_equipment_status(
                session,
                principal,
                decode_id(input.id, "EquipmentItem", "id"),
                input.status,
                input.delivery_date,
            )

        return await payload(info, op, EquipmentItemPayload, _equipment_item)
