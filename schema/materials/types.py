"""Learning materials (the JICA-Net library): the GraphQL type, the Project field that
reaches it, its filter, inputs and payload."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.compiled.components import (
    owned,
    owner_project,
)
from schema.compiled.mapping import compiled
from schema.connections import load_nodes, project_node
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.rows import FromRow
from schema.texts import (
    Fallback,
    LanguageTextInput,
    TextField,
    text_builders,
    text_fields,
)
from server import models
from server.materials import errors as codes
from server.materials import languages, queries
from server.models.enums import MaterialKind as MaterialKindEnum

if TYPE_CHECKING:
    from schema.projects import Project


MaterialErrorCode = error_codes("MaterialErrorCode", codes.MaterialErrorCode)


@strawberry.type(description="An expected failure of a learning material mutation.")
class MaterialError(UserError):
    code: MaterialErrorCode  # type: ignore[valid-type]


MaterialKind = strawberry.enum(MaterialKindEnum, name="MaterialKind")
LazyProject = Annotated["Project", strawberry.lazy("schema.projects")]


TITLE = TextField("material", "title", (Fallback("title", lang_column="language"),))


@compiled(
    text_builders(TITLE, "titles"),
    python=("language_name",),
    project=owner_project,
)
@strawberry.type(
    description="Seminar material or digital content of the JICA-Net library, produced by a"
    " project. Its files will go through the upload pipeline (issue 4); for now a material is"
    " a catalogue record with an optional link."
)
class LearningMaterial(relay.Node, FromRow):
    id: relay.NodeID[int]
    title: strawberry.Private[str]  # the original (the column)
    kind: MaterialKind  # type: ignore[valid-type]
    language: str = strawberry.field(
        description="ISO 639-1 code, or ISO 639-3 when the language has no 639-1 code"
    )
    audience: str | None
    licence: str = strawberry.field(description="Normalised SPDX license expression")
    url: str | None
    created_at: dt.datetime
    project_id: strawberry.Private[int]

    title_in, titles = text_fields(
        TITLE,
        "The title in each language (the original first; a title given as one value is in"
        " the material's language)",
        required="title",
    )

    @strawberry.field(description="English name of the language")
    def language_name(self) -> str | None:
        return languages.language_name(self.language)

    @strawberry.field
    async def project(self, info: Info) -> LazyProject | None:
        return await project_node(info, self.project_id)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[LearningMaterial | None]:
        loader = info.context.loaders.one_visible(queries.materials_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@compiled(partial=True, learning_materials=owned(models.LearningMaterial, "LearningMaterial"))
@strawberry.type
class ProjectMaterialFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""

    @strawberry.field(description="The project's learning materials, oldest first")
    async def learning_materials(self, info: Info) -> list[LearningMaterial]:
        loader = info.context.loaders.many_visible(queries.materials_by_project)
        rows = await loader.load(self.id)  # type: ignore[attr-defined]
        return [LearningMaterial.from_row(r) for r in rows]


@strawberry.input
class LearningMaterialFilter:
    project_id: strawberry.ID | None = None
    language: str | None = strawberry.field(default=None, description="An ISO 639 code")
    kind: MaterialKind | None = None  # type: ignore[valid-type]
    theme_id: strawberry.ID | None = strawberry.field(
        default=None, description="Projects of this theme or any of its sub-themes"
    )
    country: str | None = strawberry.field(default=None, description="A partner country")
    year: int | None = strawberry.field(
        default=None,
        description="Catalogued during this year, or produced by a project active that year",
    )


@strawberry.input
class AddLearningMaterialInput:
    project_id: strawberry.ID
    title: str | None = strawberry.field(default=None, description="Or give `titles`")
    titles: list[LanguageTextInput] | None = strawberry.field(
        default=None,
        description="The title in each language, one value per language; the first not"
        " marked `translated` is the original",
    )
    kind: MaterialKind  # type: ignore[valid-type]
    language: str = strawberry.field(description="ISO 639-1 or ISO 639-3 code")
    licence: str = strawberry.field(description="SPDX license expression, e.g. CC-BY-4.0")
    audience: str | None = None
    url: str | None = None


@strawberry.input
class UpdateLearningMaterialInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    titles: list[LanguageTextInput] | None = strawberry.UNSET
    kind: MaterialKind | None = strawberry.UNSET  # type: ignore[valid-type]
    language: str | None = strawberry.UNSET
    licence: str | None = strawberry.UNSET
    audience: str | None = strawberry.UNSET
    url: str | None = strawberry.UNSET


@strawberry.type
class LearningMaterialPayload:
    learning_material: LearningMaterial | None = None
    errors: list[MaterialError] = strawberry.field(default_factory=list)
