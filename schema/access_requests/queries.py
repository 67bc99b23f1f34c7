"""The access request queries: the caller's own requests, and those waiting for them."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from schema.access_requests.types import AccessRequest
from schema.connections import Connection, page_args
from schema.context import Info
from schema.records import page
from server.access.auth import Principal
from server.access_requests import queries
from server.models import AccessRequest as AccessRequestRow


async def _mine(session: AsyncSession, principal: Principal) -> Select[Any]:
    return queries.my_requests(principal)


async def _awaiting(session: AsyncSession, principal: Principal) -> Select[Any]:
    return queries.awaiting(principal)


@strawberry.type
class AccessRequestQueries:
    @strawberry.field(description="The caller's access requests, oldest first")
    async def my_access_requests(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AccessRequest] | None:
        args = page_args(first, after, last, before)
        return await page(info, _mine, AccessRequestRow.id, args, AccessRequest.from_row)

    @strawberry.field(
        description="Open requests (pending, not expired) the caller decides on, on a side"
        " still needed, oldest first"
    )
    async def access_requests_awaiting_me(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AccessRequest] | None:
        args = page_args(first, after, last, before)
        return await page(info, _awaiting, AccessRequestRow.id, args, AccessRequest.from_row)
