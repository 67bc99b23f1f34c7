"""Checking and writing a field's language-tagged values (`[{lang, value, translated}]`).

A field's list is checked whole before anything is written: each tag valid (standard
form), each value NFC-normalised, stripped and not empty, one value per language, and an
original (the first value not marked a translation). A field's rows are then replaced as
a whole, in the caller's transaction: a refused list writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import Collector, ErrorCode
from server.core.languages import UNDETERMINED, LanguageError, standard_tag
from server.core.validation import clean_text
from server.models import LanguageText

MAX_LANGUAGES = 50


@dataclass(frozen=True)
class TextValue:
    """One value of a field as a client sends it."""

    lang: str
    value: str
    translated: bool = False


@dataclass(frozen=True)
class CleanText:
    lang: str
    value: str
    original: bool
    translated: bool
    position: int


def check_texts(
    errors: Collector, field: str, items: Sequence[TextValue], *, max_len: int
) -> list[CleanText] | None:
    """The checked values of `field` (the input's name, e.g. `titles`), or None after
    recording why not; an empty list clears the field."""
    if len(items) > MAX_LANGUAGES:
        errors.add(ErrorCode.TOO_MANY, f"{field}: at most {MAX_LANGUAGES} languages", field)
        return None
    before = len(errors.details)
    seen: dict[str, int] = {}
    cleaned: list[tuple[str, str, bool]] = []
    for i, item in enumerate(items):
        at = f"{field}[{i}]"
        try:
            tag = standard_tag(item.lang, f"{at}.lang")
        except LanguageError as error:
            errors.details.extend(error.details)
            tag = None
        value = clean_text(errors, f"{at}.value", item.value, max_len=max_len, required=True)
        if tag is not None and tag.lower() in seen:
            errors.add(
                ErrorCode.DUPLICATE_LANGUAGE,
                f"{field} has two values in {tag} ({seen[tag.lower()]} and {i})",
                f"{at}.lang",
            )
        elif tag is not None:
            seen[tag.lower()] = i
        if tag is not None and value is not None:
            cleaned.append((tag, value, item.translated))
    if items and all(item.translated for item in items):
        errors.add(ErrorCode.NO_ORIGINAL, f"{field}: every value is a translation", field)
    if len(errors.details) > before:
        return None
    original = (
        next(i for i, (_, _, translated) in enumerate(cleaned) if not translated)
        if (cleaned)
        else -1
    )
    return [
        CleanText(tag, value, i == original, translated, i)
        for i, (tag, value, translated) in enumerate(cleaned)
    ]


def original_of(texts: Sequence[CleanText]) -> CleanText | None:
    return next((t for t in texts if t.original), None)


def owner_column(owner: str) -> Any:
    return getattr(LanguageText, f"{owner}_id")


async def replace_texts(
    session: AsyncSession, owner: str, owner_id: int, field: str, texts: Sequence[CleanText]
) -> None:
    """The field's rows become `texts` (owner: "project" or "institution")."""
    column = owner_column(owner)
    await session.execute(
        delete(LanguageText).where(column == owner_id, LanguageText.field == field)
    )
    session.add_all(
        LanguageText(
            **{f"{owner}_id": owner_id},
            field=field,
            lang=t.lang,
            value=t.value,
            original=t.original,
            translated=t.translated,
            position=t.position,
        )
        for t in texts
    )
    await session.flush()


async def field_texts(
    session: AsyncSession, owner: str, owner_id: int, field: str
) -> list[LanguageText]:
    column = owner_column(owner)
    rows = await session.scalars(
        select(LanguageText)
        .where(column == owner_id, LanguageText.field == field)
        .order_by(LanguageText.position, LanguageText.id)
    )
    return list(rows)


async def set_original(
    session: AsyncSession, owner: str, owner_id: int, field: str, value: str | None, lang: str
) -> None:
    """A single-valued field written as before (`title`, `nameLocal`): its original value
    becomes `value` (kept in its language; `lang` when the field had none), the other
    languages stay; None clears the field."""
    rows = await field_texts(session, owner, owner_id, field)
    if value is None:
        await replace_texts(session, owner, owner_id, field, [])
        return
    original = next((r for r in rows if r.original), None)
    if original is not None:
        original.value = value
        await session.flush()
        return
    if not rows:  # a field written before its texts were kept (or cleared): one original
        await replace_texts(
            session, owner, owner_id, field, [CleanText(lang, value, True, False, 0)]
        )


@dataclass(frozen=True)
class PendingText:
    """A field's checked write: its column's value (the original), and its values in each
    language when the client sent them (None: the single field alone was written)."""

    field: str
    column: str | None
    texts: list[CleanText] | None


def camel(name: str) -> str:
    """A values key as the API names it (`outcome_notes_texts`: `outcomeNotesTexts`)."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def check_text_field(
    errors: Collector,
    values: dict[str, Any],
    field: str,
    plural: str,
    *,
    max_len: int,
    required: bool = False,
    creating: bool = False,
) -> PendingText | None:
    """The write of `field` from the values a client sent under `field` (one value, as
    before) and `plural` (a list of TextValue; None clears), or None when neither was sent.
    Both sent: the single value must be the list's original (CONFLICT otherwise). Errors
    name the inputs in camel case (`outcome_notes`: `outcomeNotes`)."""
    name, plural_name = camel(field), camel(plural)
    if plural in values:
        texts = check_texts(errors, plural_name, values[plural] or [], max_len=max_len)
        if texts is None:
            return None
        original = original_of(texts)
        column = original.value if original is not None else None
        if field in values:
            single = clean_text(errors, name, values[field], max_len=max_len)
            if single is not None and single != column:
                errors.add(ErrorCode.CONFLICT, f"{name} is not the original of {plural_name}", name)
        if required and column is None:
            errors.add(ErrorCode.REQUIRED, f"{plural_name} needs a value", plural_name)
        return PendingText(field, column, texts)
    if field in values or (creating and required):
        column = clean_text(errors, name, values.get(field), max_len=max_len, required=required)
        return PendingText(field, column, None)
    return None


def sent_text(
    field: str, plural: str, single: str | None, items: Sequence[TextValue] | None
) -> dict[str, Any]:
    """A field of a creating call as check_text_field takes it: the single value and the
    list, each when given (None: not sent)."""
    values: dict[str, Any] = {}
    if single is not None:
        values[field] = single
    if items is not None:
        values[plural] = list(items)
    return values


async def write_text(
    session: AsyncSession, owner: str, owner_id: int, pending: PendingText, lang: str
) -> None:
    """The field's rows after a checked write (`lang`: of a single value new to the field)."""
    if pending.texts is not None:
        await replace_texts(session, owner, owner_id, pending.field, pending.texts)
    else:
        await set_original(session, owner, owner_id, pending.field, pending.column, lang)


async def write_texts(
    session: AsyncSession,
    owner: str,
    owner_id: int,
    pending: Sequence[PendingText | None],
    lang: str = UNDETERMINED,
) -> None:
    """write_text of each checked write (None: the field was not sent)."""
    for one in pending:
        if one is not None:
            await write_text(session, owner, owner_id, one, lang)
