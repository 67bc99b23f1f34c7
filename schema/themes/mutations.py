"""Global-issue themes: the mutations."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import optional_id
from schema.context import Info
from schema.payloads import payload
from schema.texts import text_values
from schema.themes.types import CreateThemeInput, Theme, ThemePayload
from server import models
from server.access.auth import Principal
from server.themes import service


@strawberry.type
class ThemeMutations:
    @strawberry.mutation
    async def create_theme(self, info: Info, input: CreateThemeInput) -> ThemePayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Theme:
            parent = optional_id(input.parent_id, "Theme", "parentId")
            return await service.create_theme(
                session,
                principal,
                name=input.name,
                code=input.code,
                parent_id=parent,
                description=input.description,
                sdgs=input.sdgs,
                names=text_values(input.names),
                descriptions=text_values(input.descriptions),
            )

        return await payload(
            info, op, ThemePayload, lambda row: ThemePayload(theme=Theme.from_row(row))
        )
