"""A dataset's title, description and keywords in each language (schema/texts.py): a mixin
of the Dataset type, the compiled path's builders declared beside it.

Keywords (server/datasets/keywords.py) are a list in each language: `keywordTexts` gives
every keyword with its language, `keywords(lang:)` the keywords of the one language the
fallback chain picks (the asked language, the caller's Accept-Language, English; a language
alone matches its regional tags), else the originals. A dataset whose keywords were written
around the service (its column alone, no rows) reads them as originals in `und`."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import JSON, case, cast, exists, false, func, literal_column, select, true
from sqlalchemy.orm import aliased

from schema.compiled.compiler import Compiler
from schema.compiled.mapping import compiled
from schema.compiled.sqljson import ONE, NotCompilable, sql_text
from schema.context import Info
from schema.scalars import LanguageTag
from schema.texts import (
    LANG_ARGUMENT,
    Fallback,
    LanguageText,
    LanguageTextInput,
    TextField,
    rank_sql,
    text_builders,
    text_fields,
)
from server import models as m
from server.core.languages import UNDETERMINED, choose, preferences
from server.datasets.keywords import keywords_by_dataset

TITLE = TextField("dataset", "title", (Fallback("title", "und"),))
DESCRIPTION = TextField("dataset", "description", (Fallback("description", "und"),))
TEXTS_INPUT = (
    " in each language, one value per language; the first not marked `translated` is the"
    " original (and what the single field reads)"
)


# --- keywords: strawberry's resolvers ------------------------------------------------------------


async def keyword_texts_of(info: Info, owner: Any) -> list[LanguageText]:
    rows = await info.context.loaders.many(keywords_by_dataset).load(owner.id)
    if rows:
        return [
            LanguageText(
                lang=r.lang,
                value=r.value,
                original=not r.translated,
                translated=r.translated,
                position=r.position,
            )
            for r in rows
        ]
    return [
        LanguageText(lang=UNDETERMINED, value=v, original=True, translated=False, position=i)
        for i, v in enumerate(owner.keywords or [])
    ]


async def keywords_in(info: Info, owner: Any, lang: str | None) -> list[str]:
    texts = await keyword_texts_of(info, owner)
    chosen = choose(texts, preferences(lang, info.context.languages))
    if chosen is not None:
        return [t.value for t in texts if t.lang == chosen.lang]
    return [t.value for t in texts if t.original]


# --- keywords: the compiled read path ---------------------------------------------------------


def _column_words(c: Compiler, row: Any) -> tuple[Any, Any, Any]:
    """The keywords of the dataset's column: (rows, value, order) for c.json.array."""
    if c.json.pg:
        listed = func.coalesce(cast(row.keywords, JSON), literal_column("'[]'::json"))
        i = func.generate_series(0, func.json_array_length(listed) - 1).column_valued("i")
        return select(i), listed.op("->>")(i), i
    words = func.json_each(func.coalesce(row.keywords, "[]")).table_valued("value", "key")
    return select().select_from(words), words.c.value, words.c.key


def _column_keywords(c: Compiler, row: Any, details: FieldDetailsList) -> Any:
    rows, word, order = _column_words(c, row)

    def value(name: str, sub: FieldDetailsList) -> Any:
        if name == "lang":
            return sql_text(UNDETERMINED)
        if name == "value":
            return word
        if name in ("original", "translated"):
            return c.json.boolean(true() if name == "original" else false())
        raise NotCompilable(f"LanguageText.{name}")

    return c.json.array(rows, c.selection("LanguageText", details, value), [order])


def keyword_list(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """`keywordTexts`: the dataset's rows in order, else the values of its column."""
    word, probe = aliased(m.DatasetKeyword), aliased(m.DatasetKeyword)
    rows = select(word).where(word.dataset_id == row.id)
    listed = c.json.array(rows, c.object("LanguageText", word, details), [word.position, word.id])
    has_rows = exists().where(probe.dataset_id == row.id).correlate(row)
    return c.json.nested(case((has_rows, listed), else_=_column_keywords(c, row, details)))


def keywords_chosen(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
    """`keywords(lang:)`: the keywords in the language the chain picks, else the originals;
    the column's values when the dataset has no rows."""
    chain = preferences(args.get("lang"), getattr(c.executor.context_value, "languages", ()))
    word, best, probe = (aliased(m.DatasetKeyword) for _ in range(3))
    ranked = rank_sql(best.lang, chain)
    picked = (
        select(best.lang)
        .where(best.dataset_id == row.id, ranked.is_not(None))
        .order_by(ranked, best.position, best.id)
        .limit(ONE)
        .correlate_except(best)  # the dataset's row, also inside the subqueries below
        .scalar_subquery()
    )
    mine = select(word).where(word.dataset_id == row.id)
    order = [word.position, word.id]
    in_picked = c.json.array(mine.where(word.lang == picked), word.value, order)
    originals = c.json.array(mine.where(word.translated.is_(False)), word.value, order)
    has_rows = exists().where(probe.dataset_id == row.id).correlate(row)
    column_rows, column_word, column_order = _column_words(c, row)
    column = c.json.array(column_rows, column_word, [column_order])
    return c.json.nested(
        case(
            (picked.is_not(None), in_picked),
            (has_rows, originals),
            else_=column,
        )
    )


@compiled(
    text_builders(TITLE, "titles"),
    text_builders(DESCRIPTION, "descriptions"),
    partial=True,
    keywords_in=keywords_chosen,
    keyword_texts=keyword_list,
)
@strawberry.type
class DatasetTextFields:
    """The language-tagged fields of Dataset (whose `title` and `description` columns hold
    the originals)."""

    title_in, titles = text_fields(
        TITLE, "The title in each language (the original first)", required="title"
    )
    description_in, descriptions = text_fields(
        DESCRIPTION, "The description in each language (the original first)"
    )

    @strawberry.field(
        name="keywords",
        description="The keywords in one language: those of the language the fallback chain"
        " picks (the asked language, the caller's Accept-Language, English), else the originals",
    )
    async def keywords_in(
        self, info: Info, lang: Annotated[LanguageTag | None, LANG_ARGUMENT] = None
    ) -> list[str]:
        return await keywords_in(info, self, lang)

    @strawberry.field(description="Every keyword with its language, in the order written")
    async def keyword_texts(self, info: Info) -> list[LanguageText]:
        return await keyword_texts_of(info, self)


@strawberry.input
class DatasetTextInputs:
    """The language-tagged inputs of createDataset and updateDataset (a mixin)."""

    titles: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The title" + TEXTS_INPUT
    )
    descriptions: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The description" + TEXTS_INPUT
    )
    keyword_texts: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET,
        description="The keywords with their languages, written whole (null or [] clears"
        " them): a value once per language; those not marked `translated` are the originals"
        " (what `keywords` writes alone)",
    )
