"""The mutations of the learning materials; the rules live in server/materials/service.py."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.inputs import given
from schema.materials.types import (
    AddLearningMaterialInput,
    LearningMaterial,
    LearningMaterialPayload,
    UpdateLearningMaterialInput,
)
from schema.payloads import payload
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.materials import service

MATERIAL_FIELDS = ("title", "kind", "language", "licence", "audience", "url")


def _values(input: AddLearningMaterialInput | UpdateLearningMaterialInput) -> dict[str, Any]:
    """The fields sent, `titles` as the service takes it (on creation null is not sent)."""
    values = given(input, *MATERIAL_FIELDS)
    if input.titles is not strawberry.UNSET:
        values["titles"] = text_values(input.titles)
    if isinstance(input, AddLearningMaterialInput):
        values = {k: v for k, v in values.items() if v is not None or k not in ("title", "titles")}
    return values


def _learning_material(row: models.LearningMaterial) -> LearningMaterialPayload:
    return LearningMaterialPayload(learning_material=LearningMaterial.from_row(row))


@strawberry.type
class MaterialMutations:
    @strawberry.mutation
    async def add_learning_material(
        self, info: Info, input: AddLearningMaterialInput
    ) -> LearningMaterialPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.LearningMaterial:
            project_id = decode_id(input.project_id, "Project", "projectId")
            values = _values(input)
            return await service.add_material(session, principal, project_id, values)

        return await payload(info, op, LearningMaterialPayload, _learning_material)

    @strawberry.mutation
    async def update_learning_material(
        self, info: Info, input: UpdateLearningMaterialInput
    ) -> LearningMaterialPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.LearningMaterial:
            material_id = decode_id(input.id, "LearningMaterial", "id")
            values = _values(input)
            return await service.update_material(session, principal, material_id, values)

        return await payload(info, op, LearningMaterialPayload, _learning_material)
