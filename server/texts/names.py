"""The names in each language of an institution or a researcher (language_texts, field
"name") and their two columns: `name_en`, the English name (the value in `en`, else the
original: the column is required), and `name_local`, the name in a language of its own (the
original when that is not English, else the first value in another language). Writing the
columns alone, as before, keeps the names in other languages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import Collector, ErrorCode
from server.core.languages import ENGLISH, UNDETERMINED, local_language, primary
from server.texts.service import (
    CleanText,
    check_texts,
    field_texts,
    original_of,
    replace_texts,
)

FIELD = "name"
MAX_NAME = 300


@dataclass(frozen=True)
class Names:
    texts: list[CleanText]
    name_en: str
    name_local: str | None


def _english(texts: Sequence[CleanText]) -> CleanText | None:
    exact = next((t for t in texts if t.lang.lower() == ENGLISH), None)
    return exact or next((t for t in texts if primary(t.lang) == ENGLISH), None)


def columns_of(texts: list[CleanText]) -> Names:
    original = original_of(texts)
    assert original is not None  # check_texts gives an original for a list not empty
    english = _english(texts)
    if primary(original.lang) != ENGLISH:
        local: CleanText | None = original
    else:
        local = next((t for t in texts if primary(t.lang) != ENGLISH), None)
    return Names(
        texts,
        (english or original).value,
        local.value if local is not None else None,
    )


def check_names(errors: Collector, values: dict[str, Any]) -> Names | None:
    """The names a client sent as `names` (None when it did not); nameEn or nameLocal
    sent with them must be what the names give (CONFLICT)."""
    if "names" not in values:
        return None
    texts = check_texts(errors, "names", values["names"] or [], max_len=MAX_NAME)
    if texts is None:
        return None
    if not texts:
        errors.add(ErrorCode.REQUIRED, "names needs a value", "names")
        return None
    names = columns_of(texts)
    for key, field, value in (
        ("name_en", "nameEn", names.name_en),
        ("name_local", "nameLocal", names.name_local),
    ):
        if key in values and values[key] is not None and values[key].strip() != value:
            errors.add(ErrorCode.CONFLICT, f"{field} is not what names give", field)
    return names


def rebuilt(
    rows: Sequence[Any], name_en: str, name_local: str | None, country: str | None
) -> list[CleanText]:
    """The names after the columns were written alone: the local name (in the language of
    its row, else of the country) as the original, the English name, then the other
    languages as they were."""
    original = next((r for r in rows if r.original), None)
    local_row = original if original is not None and primary(original.lang) != ENGLISH else None
    local_lang = local_language(country)
    if local_lang == ENGLISH:
        local_lang = UNDETERMINED
    if local_row is None:
        local_row = next((r for r in rows if r.lang == local_lang), None)
    english_row = _english(rows)
    lang = local_row.lang if local_row is not None else local_lang
    local = (lang, name_local, bool(local_row and local_row.translated)) if name_local else None
    english_lang = english_row.lang if english_row is not None else ENGLISH
    english: tuple[str, str, bool] | None = (
        english_lang,
        name_en,
        bool(english_row and english_row.translated),
    )
    if local is not None and local[0].lower() == english_lang.lower():
        english = None  # one value per language: the local name holds it
    english_first = original is not None and original is english_row
    firsts = [english, local] if english_first else [local, english]
    listed = [t for t in firsts if t is not None]
    taken = {t[0].lower() for t in listed}
    for row in rows:
        if row is local_row or row is english_row or row.lang.lower() in taken:
            continue
        listed.append((row.lang, row.value, row.translated))
        taken.add(row.lang.lower())
    return [
        CleanText(lang, value, i == 0, translated and i != 0, i)
        for i, (lang, value, translated) in enumerate(listed)
    ]


async def write_names(
    session: AsyncSession,
    owner: str,
    row: Any,
    names: Names | None,
    columns_written: bool,
    country: str | None = None,
) -> None:
    """The owner's rows (`owner`: "institution", "researcher") after a write: the names
    sent, or rebuilt from the columns when those alone were written (a local name new to
    the rows in the language of `country`, when it has one)."""
    if names is not None:
        await replace_texts(session, owner, row.id, FIELD, names.texts)
    elif columns_written:
        rows = await field_texts(session, owner, row.id, FIELD)
        texts = rebuilt(rows, row.name_en, row.name_local, country)
        await replace_texts(session, owner, row.id, FIELD, texts)
