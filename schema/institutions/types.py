"""Countries and institutions: the types, inputs and payload."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.compiled.compiler import country_of, institution_projects, prefixed_url
from schema.compiled.mapping import compiled
from schema.connections import load_nodes
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.loaders import present
from schema.rows import FromRow
from schema.texts import (
    EACH_LANGUAGE,
    Fallback,
    LanguageTextInput,
    TextField,
    text_builders,
    text_fields,
    texts_input,
)
from server.institutions import errors as codes
from server.models.enums import InstitutionKind as InstitutionKindEnum

if TYPE_CHECKING:
    from schema.projects.types import Project


InstitutionErrorCode = error_codes("InstitutionErrorCode", codes.InstitutionErrorCode)


@strawberry.type(description="An expected failure of an institution mutation.")
class InstitutionError(UserError):
    code: InstitutionErrorCode  # type: ignore[valid-type]


InstitutionKind = strawberry.enum(InstitutionKindEnum, name="InstitutionKind")


@compiled()
@strawberry.type(description="An ISO 3166-1 country. Japan is a country like others.")
class Country(FromRow):
    code: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    name: str


# without rows of names (an institution written around the service): the local name in
# its country's language as the original, and the English name
NAME = TextField(
    "institution",
    "name",
    (
        Fallback("name_local", country="country_code"),
        Fallback("name_en", "en", original_unless="name_local"),
    ),
)
ACRONYM = TextField("institution", "acronym", (Fallback("acronym", "und"),))


@compiled(
    text_builders(NAME, "names"),
    text_builders(ACRONYM, "acronyms"),
    ror_url=prefixed_url("ror_id", "https://ror.org/"),
    country=country_of("country_code"),
    projects=institution_projects,
)
@strawberry.type(description="A university, institute, agency, ministry, organisation or firm.")
class Institution(relay.Node, FromRow):
    id: relay.NodeID[int]
    name_en: str
    name_local: str | None
    acronym: strawberry.Private[str | None]  # the original (the column)
    kind: InstitutionKind  # type: ignore[valid-type]
    ror_id: str | None = strawberry.field(description="ROR identifier, e.g. 057zh3y96")
    website: str | None
    created_at: dt.datetime
    country_code: strawberry.Private[str]

    name_in, names = text_fields(
        NAME,
        "The name in each language (the original first, e.g. the local name; nameEn and"
        " nameLocal read two of them as before)",
        required="name_en",
    )
    acronym_in, acronyms = text_fields(ACRONYM, "The acronym" + EACH_LANGUAGE)

    @strawberry.field
    def ror_url(self) -> str | None:
        return f"https://ror.org/{self.ror_id}" if self.ror_id else None

    @strawberry.field
    async def country(self, info: Info) -> Country:
        row = await info.context.loaders.country_by_code.load(self.country_code)
        return Country.from_row(present(row))

    @strawberry.field(description="Projects the institution takes part in (that you may see).")
    async def projects(
        self, info: Info
    ) -> list[Annotated[Project, strawberry.lazy("schema.projects.types")]]:
        from schema.projects.types import Project

        rows = await info.context.loaders.projects_by_institution.load(self.id)
        return [Project.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Institution | None]:
        return await load_nodes(info.context.loaders.institution_by_id, node_ids, cls.from_row)


@strawberry.input
class InstitutionFilter:
    country: str | None = None
    kind: InstitutionKind | None = None  # type: ignore[valid-type]
    name: str | None = strawberry.field(
        default=None, description="Matches English or local name or acronym"
    )


NAMES_INPUT = (
    "The name in each language, one value per language; the first not marked `translated`"
    " is the original. nameEn becomes the `en` value (else the original), nameLocal the"
    " original when it is not English (else the first value in another language)"
)


@strawberry.input
class CreateInstitutionInput:
    name_en: str | None = strawberry.field(default=None, description="Or give `names`")
    names: list[LanguageTextInput] | None = strawberry.field(default=None, description=NAMES_INPUT)
    country: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    kind: InstitutionKind  # type: ignore[valid-type]
    name_local: str | None = None
    acronym: str | None = None
    acronyms: list[LanguageTextInput] | None = texts_input("The acronym")
    ror_id: str | None = None
    website: str | None = None
    different_body: bool = strawberry.field(
        default=False,
        description="An institution of the same name exists in the country and this is another"
        " body: create it all the same (else DUPLICATE_INSTITUTION names the existing one)",
    )


@strawberry.input
class UpdateInstitutionInput:
    id: strawberry.ID
    name_en: str | None = strawberry.UNSET
    names: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET, description=NAMES_INPUT + "; replaces them all"
    )
    name_local: str | None = strawberry.UNSET
    acronym: str | None = strawberry.UNSET
    acronyms: list[LanguageTextInput] | None = texts_input("The acronym", update=True)
    country: str | None = strawberry.UNSET
    kind: InstitutionKind | None = strawberry.UNSET  # type: ignore[valid-type]
    ror_id: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    different_body: bool = strawberry.field(
        default=False,
        description="An institution of the same name exists in the country and this is another"
        " body: create it all the same (else DUPLICATE_INSTITUTION names the existing one)",
    )


@strawberry.type
class InstitutionPayload:
    institution: Institution | None = None
    errors: list[InstitutionError] = strawberry.field(default_factory=list)
