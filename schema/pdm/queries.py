"""The root connection of the design matrices' indicators."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, optional_id, page_args
from schema.context import Info
from schema.materials.queries import MaterialQueries
from schema.pdm.types import Indicator, IndicatorFilter
from schema.records import page
from server import models
from server.access.auth import Principal
from server.pdm import queries


@strawberry.type
class DesignMatrixQueries:
    @strawberry.field(description="Indicators of the design matrices you may see")
    async def indicators(
        self,
        info: Info,
        filter: IndicatorFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Indicator] | None:
        async def statement(session: AsyncSession, principal: Principal) -> Select[Any]:
            flt = None
            if filter is not None:
                theme_id = optional_id(filter.theme_id, "Theme", "filter.themeId")
                flt = queries.IndicatorFilter(
                    project_id=optional_id(filter.project_id, "Project", "filter.projectId"),
                    theme_id=theme_id,
                    country=filter.country,
                    level=filter.level,
                )
            return await queries.indicators_query(session, principal, flt)

        args = page_args(first, after, last, before)
        return await page(info, statement, models.Indicator.id, args, Indicator.from_row)


@strawberry.type
class PdmQueries(DesignMatrixQueries, MaterialQueries):
    """The indicators, then the learning materials (schema.materials), in the SDL's order."""
