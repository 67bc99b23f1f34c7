"""Researchers: the queries."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, connection, decode_id, page_args
from schema.context import Info
from schema.errors import read
from schema.researchers.types import Researcher, ResearcherFilter
from server import models
from server.core.pagination import Page, paginate
from server.researchers import queries


@strawberry.type
class ResearcherQueries:
    @strawberry.field
    async def researchers(
        self,
        info: Info,
        filter: ResearcherFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Researcher] | None:
        async def op(session: AsyncSession) -> Page[models.Researcher]:
            flt = None
            if filter is not None:
                flt = queries.ResearcherFilter(name=filter.name, orcid=filter.orcid)
                if filter.institution_id is not None:
                    flt.institution_id = decode_id(
                        filter.institution_id, "Institution", "filter.institutionId"
                    )
            stmt = queries.researchers_query(flt)
            return await paginate(
                session, stmt, models.Researcher.id, page_args(first, after, last, before)
            )

        return connection(await read(info, op), Researcher.from_row)
