"""Researchers and affiliations: the types, inputs and payloads."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

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
from schema.connections import load_nodes
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.institutions.types import Institution
from schema.loaders import present
from schema.rows import FromRow
from schema.texts import (
    Fallback,
    LanguageTextInput,
    TextField,
    text_builders,
    text_fields,
)
from server import models
from server.access.visibility import email_visible
from server.researchers import errors as codes

if TYPE_CHECKING:
    from schema.projects.types import Project


ResearcherErrorCode = error_codes("ResearcherErrorCode", codes.ResearcherErrorCode)


@strawberry.type(description="An expected failure of a researcher mutation.")
class ResearcherError(UserError):
    code: ResearcherErrorCode  # type: ignore[valid-type]


@compiled(institution=institution_of("institution_id"))
@strawberry.type
class Affiliation(FromRow):
    title: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    institution_id: strawberry.Private[int]

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.institution_id)
        return Institution.from_row(present(row))


NAME = TextField(
    "researcher",
    "name",
    (Fallback("name_local", "und"), Fallback("name_en", "en", original_unless="name_local")),
)


@compiled(
    text_builders(NAME, "names"),
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

    name_in, names = text_fields(
        NAME,
        "The name in each language (the original first; nameEn and nameLocal read two of"
        " them as before)",
        required="name_en",
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
    ) -> list[Annotated[Project, strawberry.lazy("schema.projects.types")]]:
        from schema.projects.types import Project

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
    institution_id: strawberry.ID | None = None
    orcid: str | None = None


@strawberry.input
class CreateResearcherInput:
    name_en: str | None = strawberry.field(default=None, description="Or give `names`")
    names: list[LanguageTextInput] | None = strawberry.field(
        default=None,
        description="The name in each language, one value per language; the first not marked"
        " `translated` is the original. nameEn becomes the `en` value (else the original),"
        " nameLocal the original when it is not English (else the first value in another"
        " language)",
    )
    name_local: str | None = None
    orcid: str | None = None
    email: str | None = None


@strawberry.input
class AddAffiliationInput:
    researcher_id: strawberry.ID
    institution_id: strawberry.ID
    title: str | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None


@strawberry.type
class ResearcherPayload:
    researcher: Researcher | None = None
    errors: list[ResearcherError] = strawberry.field(default_factory=list)


@strawberry.type
class AffiliationPayload:
    affiliation: Affiliation | None = None
    errors: list[ResearcherError] = strawberry.field(default_factory=list)
