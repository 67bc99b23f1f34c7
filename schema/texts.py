"""Language-tagged texts in GraphQL: `titles { lang value original translated }`, the one
value `title(lang:)` picks (the asked language, the caller's Accept-Language, English, the
original), the input `[{lang, value, translated}]`; answered the same by strawberry's
resolvers (here) and by the compiled read path (the builders below, given to `@compiled`).

A field is described once (`TextField`): its owner and name, and how its values read from
the owner's own columns when the owner has no rows of texts (a row written by code that
does not go through the services: the demo's seed, say).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from typing import Annotated, Any

import strawberry
from graphql.execution.collect_fields import FieldDetailsList
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from schema.compiled.compiler import Builder, Compiler
from schema.compiled.mapping import compiled
from schema.compiled.sqljson import ONE, NotCompilable, sql_text
from schema.context import Info
from schema.scalars import LanguageTag
from server import models as m
from server.core.languages import (
    OFFICIAL_LANGUAGE,
    UNDETERMINED,
    choose,
    local_language,
    preferences,
    primary,
    rank,
)
from server.texts.queries import TEXTS_BY_OWNER
from server.texts.service import TextValue, camel


@dataclass(frozen=True)
class Fallback:
    """A value of the field read from the owner's column `column`, in `lang` (or, None,
    the tag in the owner's column `lang_column`, or the language of the owner's country
    column `country`); the original unless the owner's column `original_unless` holds a
    value."""

    column: str
    lang: str | None = None
    country: str | None = None
    original_unless: str | None = None
    lang_column: str | None = None


@dataclass(frozen=True)
class TextField:
    owner: str  # "project", "institution": the owner column of language_texts
    field: str  # the field's name in language_texts (snake case: the GraphQL name in camel)
    fallback: tuple[Fallback, ...]
    key: str = "id"  # the owner's attribute that holds its primary key (strawberry's side)


def _flag(name: str) -> Builder:
    return lambda c, row, details, args: c.json.boolean(getattr(row, name))


@compiled(original=_flag("original"), translated=_flag("translated"))
@strawberry.type(description="A value of a text in one language.")
class LanguageText:
    lang: str = strawberry.field(description="BCP 47 language tag, e.g. ja, en, th, pt-BR, und")
    value: str
    original: bool = strawberry.field(description="The value in the language it was written in")
    translated: bool = strawberry.field(
        description="A translation (by a person or a machine) of the original"
    )
    position: strawberry.Private[int]


@strawberry.input(description="A value of a text in one language.")
class LanguageTextInput:
    lang: str = strawberry.field(description="BCP 47 language tag, e.g. ja, en, th, pt-BR, und")
    value: str
    translated: bool = strawberry.field(
        default=False,
        description="A translation of the original (the first value not marked translated)",
    )


EACH_LANGUAGE = (
    " in each language it is written in (the first is the original: the field without"
    " `lang` reads it as before)"
)
TEXTS_INPUT = (
    " in each language, one value per language; the first not marked `translated` is the"
    " original (and what the single field reads)"
)


def texts_input(what: str, *, update: bool = False) -> Any:
    """An input's list of a language-tagged field (`what`: "The title"), beside its single
    value: left out (null on creation) it is not written."""
    default = strawberry.UNSET if update else None
    return strawberry.field(default=default, description=what + TEXTS_INPUT)


def text_values(items: list[LanguageTextInput] | None) -> list[TextValue] | None:
    if items is None:
        return None
    return [TextValue(i.lang, i.value, i.translated) for i in items]


# --- strawberry's resolvers -------------------------------------------------------------------


def fallback_texts(spec: TextField, owner: Any) -> list[LanguageText]:
    texts = []
    for i, item in enumerate(spec.fallback):
        value = getattr(owner, item.column)
        if value is None:
            continue
        if item.lang_column is not None:
            lang = getattr(owner, item.lang_column)
        else:
            lang = item.lang or local_language(getattr(owner, item.country or ""))
        original = item.original_unless is None or getattr(owner, item.original_unless) is None
        texts.append(
            LanguageText(lang=lang, value=value, original=original, translated=False, position=i)
        )
    return texts


async def texts_of(info: Info, spec: TextField, owner: Any) -> list[LanguageText]:
    loader = info.context.loaders.many(TEXTS_BY_OWNER[spec.owner])
    rows = await loader.load(getattr(owner, spec.key))
    mine = [
        LanguageText(
            lang=r.lang,
            value=r.value,
            original=r.original,
            translated=r.translated,
            position=r.position,
        )
        for r in rows
        if r.field == spec.field
    ]
    return mine or fallback_texts(spec, owner)


async def text_in(info: Info, spec: TextField, owner: Any, lang: str | None) -> str | None:
    """The value the fallback chain picks: `lang`, the caller's Accept-Language, English,
    then the original."""
    chain = preferences(lang, info.context.languages)
    texts = await texts_of(info, spec, owner)
    chosen = choose(texts, chain) or next((t for t in texts if t.original), None)
    return chosen.value if chosen is not None else None


LANG_ARGUMENT = strawberry.argument(
    description="A BCP 47 tag; then the caller's Accept-Language, English, the original"
)


def text_fields(spec: TextField, plural: str, *, required: str | None = None) -> tuple[Any, Any]:
    """The two GraphQL fields of a language-tagged text, declared on a type in one line
    (`title_in, titles = text_fields(TITLE, "The title in each language")`): `<field>(lang:)`,
    the value the fallback chain picks (`required`: the owner's column it reads when none is
    picked, the field is then not nullable), and the list of every value (described by
    `plural`). The compiled path's builders of the pair: `text_builders`."""
    single = f"The {spec.field.replace('_', ' ')} in one language (fallback chain)"

    async def one(
        self: Any, info: Info, lang: Annotated[LanguageTag | None, LANG_ARGUMENT] = None
    ) -> str | None:
        return await text_in(info, spec, self, lang)

    async def one_required(
        self: Any, info: Info, lang: Annotated[LanguageTag | None, LANG_ARGUMENT] = None
    ) -> str:
        return await text_in(info, spec, self, lang) or getattr(self, required or "")

    async def every(self: Any, info: Info) -> list[LanguageText]:
        return await texts_of(info, spec, self)

    resolver = one if required is None else one_required
    return (
        strawberry.field(resolver=resolver, name=camel(spec.field), description=single),
        strawberry.field(resolver=every, description=plural),
    )


def text_builders(spec: TextField, plural: str) -> dict[str, Builder]:
    """The compiled path's builders of `text_fields(spec, ...)` assigned to `<field>_in` and
    `plural` (the attribute names): for `@compiled(text_builders(TITLE, "titles"), ...)`."""
    return {f"{spec.field}_in": text_chosen(spec), plural: text_list(spec)}


# --- the compiled read path --------------------------------------------------------------------


def rank_sql(lang: Any, chain: tuple[str, ...]) -> ColumnElement[Any]:
    """server.core.languages.rank as SQL: NULL when the tag is not in the chain."""
    lowered = func.lower(lang)
    whens: list[tuple[Any, int]] = []
    for i, wanted in enumerate(chain):
        whens.append((lowered == wanted.lower(), 2 * i))
        language = primary(wanted)
        if language != UNDETERMINED:
            whens.append((or_(lowered == language, lowered.like(f"{language}-%")), 2 * i + 1))
    return case(*whens)


def _owned(spec: TextField, text: Any, row: Any) -> ColumnElement[bool]:
    return and_(getattr(text, f"{spec.owner}_id") == row.id, text.field == spec.field)


def _fallback_lang(item: Fallback, row: Any) -> ColumnElement[Any]:
    if item.lang is not None:
        return sql_text(item.lang)
    if item.lang_column is not None:
        return getattr(row, item.lang_column)
    table = {code: sql_text(tag) for code, tag in OFFICIAL_LANGUAGE.items()}
    return case(table, value=getattr(row, item.country or ""), else_=sql_text(UNDETERMINED))


def _fallback_rank(item: Fallback, row: Any, chain: tuple[str, ...]) -> Any:
    """rank() of the value's language (None: never in the chain), worked out here for each
    country (a CASE over the country column with a few IN lists, not a rank over a CASE of
    every country)."""
    if item.lang is not None:
        found = rank(item.lang, chain)
        return literal(found) if found is not None else None
    if item.lang_column is not None:
        return rank_sql(getattr(row, item.lang_column), chain)
    by_rank: dict[int, list[str]] = {}
    for code, tag in OFFICIAL_LANGUAGE.items():
        found = rank(tag, chain)
        if found is not None:
            by_rank.setdefault(found, []).append(code)
    country = getattr(row, item.country or "")
    whens = [
        (country.in_([sql_text(code) for code in codes]), literal(found))
        for found, codes in sorted(by_rank.items())
    ]
    other = rank(UNDETERMINED, chain)  # a country not listed: und
    listed = [sql_text(code) for code in OFFICIAL_LANGUAGE]
    if other is not None:
        whens.append((country.not_in(listed), literal(other)))
    return case(*whens) if whens else None


def _fallback_original(item: Fallback, row: Any) -> ColumnElement[bool]:
    if item.original_unless is None:
        return true()
    return getattr(row, item.original_unless).is_(None)


def text_list(spec: TextField) -> Builder:
    """`titles`: the owner's rows in order, else the values of its columns."""

    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        text, probe = aliased(m.LanguageText), aliased(m.LanguageText)
        rows = select(text).where(_owned(spec, text, row))
        listed = c.json.array(
            rows, c.object("LanguageText", text, details), [text.position, text.id]
        )
        has_rows = exists().where(_owned(spec, probe, row)).correlate(row)
        return c.json.nested(case((has_rows, listed), else_=_fallback_array(c, spec, row, details)))

    return build


def _fallback_array(c: Compiler, spec: TextField, row: Any, details: FieldDetailsList) -> Any:
    objects = []
    for item in spec.fallback:

        def value(name: str, sub: FieldDetailsList, item: Fallback = item) -> Any:
            if name == "lang":
                return _fallback_lang(item, row)
            if name == "value":
                return getattr(row, item.column)
            if name == "original":
                return c.json.boolean(_fallback_original(item, row))
            if name == "translated":
                return c.json.boolean(false())
            raise NotCompilable(f"LanguageText.{name}")

        objects.append(c.selection("LanguageText", details, value))
    whens = []
    for present in product((True, False), repeat=len(spec.fallback)):
        columns = [getattr(row, item.column) for item in spec.fallback]
        condition = and_(
            *(
                col.is_not(None) if p else col.is_(None)
                for col, p in zip(columns, present, strict=True)
            )
        )
        chosen = [obj for obj, p in zip(objects, present, strict=True) if p]
        whens.append((condition, c.json.literal_array(chosen)))
    return case(*whens)


def text_chosen(spec: TextField) -> Builder:
    """`title(lang:)`: the owner's row the chain picks, else its original; the same over
    the values of its columns when it has no rows."""

    def build(c: Compiler, row: Any, details: FieldDetailsList, args: Any) -> Any:
        asked = args.get("lang")  # a LanguageTag: checked and standard already
        chain = preferences(asked, getattr(c.executor.context_value, "languages", ()))
        text = aliased(m.LanguageText)
        ranked = rank_sql(text.lang, chain)
        # the chain's pick, else the original (ranked after every language of the chain):
        # one look at the owner's rows, not one for the pick and one for the original
        after_chain = literal(2 * len(chain) + 2)
        pick = (
            select(text.value)
            .where(_owned(spec, text, row), or_(ranked.is_not(None), text.original.is_(True)))
            .order_by(func.coalesce(ranked, after_chain), text.position, text.id)
            .limit(ONE)
            .scalar_subquery()
        )
        return func.coalesce(pick, *_fallback_choice(spec, row, chain))

    return build


def _fallback_choice(spec: TextField, row: Any, chain: tuple[str, ...]) -> list[Any]:
    """The chain's pick among the column values, then their original (CASE expressions)."""
    values = [getattr(row, item.column) for item in spec.fallback]
    ranked = [
        (i, value, found, and_(value.is_not(None), found.is_not(None)))
        for i, (item, value) in enumerate(zip(spec.fallback, values, strict=True))
        if (found := _fallback_rank(item, row, chain)) is not None
    ]
    picks = []
    for i, value, found, usable in ranked:
        better = [
            and_(other_usable, or_(other < found, and_(other == found, literal(j < i))))
            for j, _, other, other_usable in ranked
            if j != i
        ]
        picks.append((and_(usable, *(not_(b) for b in better)), value))
    originals = [
        (and_(value.is_not(None), _fallback_original(item, row)), value)
        for item, value in zip(spec.fallback, values, strict=True)
    ]
    return [case(*picks) if picks else null(), case(*originals)]
