"""Countries and institutions: the queries."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, connection, page_args
from schema.context import Info
from schema.errors import read
from schema.institutions.types import Country, Institution, InstitutionFilter
from server import models
from server.core.pagination import Page, paginate
from server.institutions import queries


@strawberry.type
class InstitutionQueries:
    @strawberry.field(description="Every ISO 3166-1 country.")
    async def countries(self, info: Info) -> list[Country]:
        rows = await read(info, queries.list_countries)
        return [Country.from_row(r) for r in rows]

    @strawberry.field
    async def institutions(
        self,
        info: Info,
        filter: InstitutionFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Institution] | None:
        flt = (
            queries.InstitutionFilter(country=filter.country, kind=filter.kind, name=filter.name)
            if filter
            else None
        )

        async def op(session: AsyncSession) -> Page[models.Institution]:
            return await paginate(
                session,
                queries.institutions_query(flt),
                models.Institution.id,
                page_args(first, after, last, before),
            )

        return connection(await read(info, op), Institution.from_row)
