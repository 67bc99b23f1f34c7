"""SATREPS joint research projects: the queries."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, connection, decode_id, page_args
from schema.context import Info
from schema.errors import read
from schema.projects.types import Project, ProjectFilter
from server import models
from server.core.pagination import Page, paginate
from server.projects import queries


@strawberry.type
class ProjectQueries:
    @strawberry.field
    async def projects(
        self,
        info: Info,
        filter: ProjectFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Project] | None:
        principal = info.context.principal

        async def op(session: AsyncSession) -> Page[models.Project]:
            flt = None
            if filter is not None:
                flt = queries.ProjectFilter(
                    country=filter.country, phase=filter.phase, year=filter.year
                )
                if filter.theme_id is not None:
                    flt.theme_id = decode_id(filter.theme_id, "Theme", "filter.themeId")
                if filter.institution_id is not None:
                    flt.institution_id = decode_id(
                        filter.institution_id, "Institution", "filter.institutionId"
                    )
            stmt = await queries.projects_query(session, principal, flt)
            return await paginate(
                session, stmt, models.Project.id, page_args(first, after, last, before)
            )

        return connection(await read(info, op), Project.from_row)
