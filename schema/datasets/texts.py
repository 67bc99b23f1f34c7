"""A dataset's title and description in each language (schema/texts.py): a mixin of the
Dataset type, the compiled path's builders declared beside it."""

from __future__ import annotations

from typing import Annotated

import strawberry

from schema.compiled.mapping import compiled
from schema.context import Info
from schema.scalars import LanguageTag
from schema.texts import (
    LANG_ARGUMENT,
    Fallback,
    LanguageText,
    LanguageTextInput,
    TextField,
    text_chosen,
    text_in,
    text_list,
    texts_of,
)

TITLE = TextField("dataset", "title", (Fallback("title", "und"),))
DESCRIPTION = TextField("dataset", "description", (Fallback("description", "und"),))
TEXTS_INPUT = (
    " in each language, one value per language; the first not marked `translated` is the"
    " original (and what the single field reads)"
)


@compiled(
    partial=True,
    title_in=text_chosen(TITLE),
    titles=text_list(TITLE),
    description_in=text_chosen(DESCRIPTION),
    descriptions=text_list(DESCRIPTION),
)
@strawberry.type
class DatasetTextFields:
    """The language-tagged fields of Dataset (whose `title` and `description` columns hold
    the originals)."""

    @strawberry.field(name="title", description="The title in one language (fallback chain)")
    async def title_in(
        self, info: Info, lang: Annotated[LanguageTag | None, LANG_ARGUMENT] = None
    ) -> str:
        return await text_in(info, TITLE, self, lang) or self.title  # type: ignore[attr-defined]

    @strawberry.field(description="The title in each language (the original first)")
    async def titles(self, info: Info) -> list[LanguageText]:
        return await texts_of(info, TITLE, self)

    @strawberry.field(
        name="description", description="The description in one language (fallback chain)"
    )
    async def description_in(
        self, info: Info, lang: Annotated[LanguageTag | None, LANG_ARGUMENT] = None
    ) -> str | None:
        return await text_in(info, DESCRIPTION, self, lang)

    @strawberry.field(description="The description in each language (the original first)")
    async def descriptions(self, info: Info) -> list[LanguageText]:
        return await texts_of(info, DESCRIPTION, self)


@strawberry.input
class DatasetTextInputs:
    """The language-tagged inputs of createDataset and updateDataset (a mixin)."""

    titles: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The title" + TEXTS_INPUT
    )
    descriptions: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The description" + TEXTS_INPUT
    )
