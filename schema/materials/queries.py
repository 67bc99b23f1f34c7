"""The root connection of the learning materials."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, optional_id, page_args
from schema.context import Info
from schema.materials.types import LearningMaterial, LearningMaterialFilter
from schema.records import page
from server import models
from server.access.auth import Principal
from server.materials import queries


@strawberry.type
class MaterialQueries:
    @strawberry.field(description="The learning materials (JICA-Net library) you may see")
    async def learning_materials(
        self,
        info: Info,
        filter: LearningMaterialFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[LearningMaterial] | None:
        async def statement(session: AsyncSession, principal: Principal) -> Select[Any]:
            flt = None
            if filter is not None:
                theme_id = optional_id(filter.theme_id, "Theme", "filter.themeId")
                flt = queries.MaterialFilter(
                    project_id=optional_id(filter.project_id, "Project", "filter.projectId"),
                    language=filter.language,
                    kind=filter.kind,
                    theme_id=theme_id,
                    country=filter.country,
                    year=filter.year,
                )
            return await queries.materials_query(session, principal, flt)

        args = page_args(first, after, last, before)
        return await page(
            info, statement, models.LearningMaterial.id, args, LearningMaterial.from_row
        )
