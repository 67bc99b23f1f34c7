"""Researchers and affiliations: types, queries, mutations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay

from schema.compiled.compiler import (
    institution_of,
    prefixed_url,
    researcher_affiliations,
    researcher_email,
    researcher_projects,
)
from schema.compiled.mapping import compiled
from schema.connections import Connection, connection, decode_id, load_nodes, page_args
from schema.context import Info
from schema.errors import UserError, mutate, read
from schema.institutions import Institution
from server import models
from server.access.visibility import email_visible
from server.core.pagination import paginate
from server.researchers import queries, service

if TYPE_CHECKING:
    from schema.projects import Project


@compiled(institution=institution_of("institution_id"))
@strawberry.type
class Affiliation:
    title: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    institution_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Affiliation) -> Affiliation:
        return cls(
            title=row.title,
            start_date=row.start_date,
            end_date=row.end_date,
            institution_id=row.institution_id,
        )

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.institution_id)
        return Institution.from_row(row)


@compiled(
    orcid_url=prefixed_url("orcid", "https://orcid.org/"),
    email=researcher_email,
    affiliations=researcher_affiliations,
    projects=researcher_projects,
)
@strawberry.type
class Researcher(relay.Node):
    id: relay.NodeID[int]
    name_en: str
    name_local: str | None
    orcid: str | None = strawberry.field(description="ORCID iD, e.g. 0000-0002-1825-0097")
    created_at: dt.datetime
    email_address: strawberry.Private[str | None]

    @classmethod
    def from_row(cls, row: models.Researcher) -> Researcher:
        return cls(
            id=row.id,
            name_en=row.name_en,
            name_local=row.name_local,
            orcid=row.orcid,
            created_at=row.created_at,
            email_address=row.email,
        )

    @strawberry.field
    def orcid_url(self) -> str | None:
        return f"https://orcid.org/{self.orcid}" if self.orcid else None

    @strawberry.field(description="Shown to signed-in callers only; null otherwise.")
    def email(self, info: Info) -> str | None:
        return self.email_address if email_visible(info.context.principal) else None

    @strawberry.field
    async def affiliations(self, info: Info) -> list[Affiliation]:
        rows = await info.context.loaders.affiliations_by_researcher.load(self.id)
        return [Affiliation.from_row(r) for r in rows]

    @strawberry.field(description="Projects the researcher is a member of (that you may see).")
    async def projects(
        self, info: Info
    ) -> list[Annotated[Project, strawberry.lazy("schema.projects")]]:
        from schema.projects import Project

        rows = await info.context.loaders.projects_by_researcher.load(self.id)
        return [Project.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Researcher | None]:
        return await load_nodes(info.context.loaders.researcher_by_id, node_ids, cls.from_row)


@strawberry.input
class ResearcherFilter:
    name: str | None = None
    institution_id: relay.GlobalID | None = None
    orcid: str | None = None


@strawberry.input
class CreateResearcherInput:
    name_en: str
    name_local: str | None = None
    orcid: str | None = None
    email: str | None = None


@strawberry.input
class AddAffiliationInput:
    researcher_id: relay.GlobalID
    institution_id: relay.GlobalID
    title: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None


@strawberry.type
class ResearcherPayload:
    researcher: Researcher | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AffiliationPayload:
    affiliation: Affiliation | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


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
    ) -> Connection[Researcher]:
        async def op(session: Any) -> Any:
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


@strawberry.type
class ResearcherMutations:
    @strawberry.mutation
    async def create_researcher(
        self, info: Info, input: CreateResearcherInput
    ) -> ResearcherPayload:
        values = {
            "name_en": input.name_en,
            "name_local": input.name_local,
            "orcid": input.orcid,
            "email": input.email,
        }
        result = await mutate(info, lambda s, p: service.create_researcher(s, p, values))
        if isinstance(result, list):
            return ResearcherPayload(errors=result)
        return ResearcherPayload(researcher=Researcher.from_row(result))

    @strawberry.mutation
    async def add_affiliation(self, info: Info, input: AddAffiliationInput) -> AffiliationPayload:
        async def op(session: Any, principal: Any) -> models.Affiliation:
            return await service.add_affiliation(
                session,
                principal,
                decode_id(input.researcher_id, "Researcher", "researcherId"),
                decode_id(input.institution_id, "Institution", "institutionId"),
                title=input.title,
                start_date=input.start_date,
                end_date=input.end_date,
            )

        result = await mutate(info, op)
        if isinstance(result, list):
            return AffiliationPayload(errors=result)
        return AffiliationPayload(affiliation=Affiliation.from_row(result))
