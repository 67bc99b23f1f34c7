"""Global-issue themes: the type, input and payload."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.compiled.compiler import theme_children, theme_parent, theme_projects, theme_sdgs
from schema.compiled.mapping import compiled
from schema.connections import load_nodes
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.loaders import present
from schema.rows import FromRow
from schema.texts import (
    Fallback,
    LanguageTextInput,
    TextField,
    text_builders,
    text_fields,
)
from server.themes import errors as codes

if TYPE_CHECKING:
    from schema.projects.types import Project


ThemeErrorCode = error_codes("ThemeErrorCode", codes.ThemeErrorCode)


@strawberry.type(description="An expected failure of a theme mutation.")
class ThemeError(UserError):
    code: ThemeErrorCode  # type: ignore[valid-type]


NAME = TextField("theme", "name", (Fallback("name", "und"),))
DESCRIPTION = TextField("theme", "description", (Fallback("description", "und"),))


@compiled(
    text_builders(NAME, "names"),
    text_builders(DESCRIPTION, "descriptions"),
    parent=theme_parent,
    children=theme_children,
    sdgs=theme_sdgs,
    projects=theme_projects,
)
@strawberry.type(description="A SATREPS research field or sub-field, mapped to UN SDGs.")
class Theme(relay.Node, FromRow):
    id: relay.NodeID[int]
    code: str
    name: strawberry.Private[str]  # the originals (the columns)
    description: strawberry.Private[str | None]
    parent_id: strawberry.Private[int | None]

    name_in, names = text_fields(
        NAME, "The name in each language (the original first)", required="name"
    )
    description_in, descriptions = text_fields(
        DESCRIPTION, "The description in each language (the original first)"
    )

    @strawberry.field
    async def parent(self, info: Info) -> Theme | None:
        if self.parent_id is None:
            return None
        return Theme.from_row(present(await info.context.loaders.theme_by_id.load(self.parent_id)))

    @strawberry.field
    async def children(self, info: Info) -> list[Theme]:
        rows = await info.context.loaders.children_by_theme.load(self.id)
        return [Theme.from_row(r) for r in rows]

    @strawberry.field(description="UN Sustainable Development Goals (1-17)")
    async def sdgs(self, info: Info) -> list[int]:
        return await info.context.loaders.sdgs_by_theme.load(self.id)

    @strawberry.field(description="Projects tagged with exactly this theme (that you may see).")
    async def projects(
        self, info: Info
    ) -> list[Annotated[Project, strawberry.lazy("schema.projects.types")]]:
        from schema.projects.types import Project

        rows = await info.context.loaders.projects_by_theme.load(self.id)
        return [Project.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Theme | None]:
        return await load_nodes(info.context.loaders.theme_by_id, node_ids, cls.from_row)


@strawberry.input
class CreateThemeInput:
    name: str | None = strawberry.field(default=None, description="Or give `names`")
    names: list[LanguageTextInput] | None = strawberry.field(
        default=None,
        description="The name in each language, one value per language; the first not marked"
        " `translated` is the original (and what the code is derived from)",
    )
    descriptions: list[LanguageTextInput] | None = None
    code: str | None = strawberry.field(
        default=None, description="a-z, 0-9 and '-'; derived from the name when left out"
    )
    parent_id: strawberry.ID | None = None
    description: str | None = None
    sdgs: list[int] = strawberry.field(default_factory=list)


@strawberry.type
class ThemePayload:
    theme: Theme | None = None
    errors: list[ThemeError] = strawberry.field(default_factory=list)
