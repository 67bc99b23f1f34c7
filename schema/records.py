"""What the GraphQL faces of a project's components (cooperation, pdm, materials,
evaluation) share: a page of a root connection, written once for every record type, and an
optional global id. (A mutation's payload: schema/payloads.py.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from schema.connections import Connection, connection
from schema.context import Info
from schema.errors import read
from server.access.auth import Principal
from server.core.pagination import Page, PageArgs, paginate

T = TypeVar("T")
R = TypeVar("R")
P = TypeVar("P")

# statement(session, principal) -> the rows the principal may see that match the filter
Statement = Callable[[AsyncSession, Principal], Awaitable[Select[Any]]]


async def page(
    info: Info,
    statement: Statement,
    key: InstrumentedAttribute[int],
    args: PageArgs,
    convert: Callable[[Any], T],
) -> Connection[T]:
    """One page of a root connection, ordered by `key`. The statement is built inside the
    read, so a filter's bad id or year is a public error like any other."""
    principal = info.context.principal

    async def op(session: AsyncSession) -> Page[Any]:
        return await paginate(session, await statement(session, principal), key, args)

    return connection(await read(info, op), convert)
