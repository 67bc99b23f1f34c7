"""A dataset's keywords in each language (dataset_keywords, migration 0019).

Written whole as `[{lang, value, translated}]` (`keywordTexts`): each tag valid (standard
form), each value NFC-normalised, stripped and not empty, a value once per language (case
folded), at most MAX_PER_LANGUAGE in a language and MAX_KEYWORDS in all; the keywords not
marked translated are the originals, whose values the dataset's `keywords` column keeps.

Written as plain strings (`keywords`, as before): they become the originals, in the language
of the originals they replace, else the dataset's original language (its title's), else
`und`; the translations stay (but one that is now an original). A refused list writes
nothing: everything is checked before the rows are replaced, in the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import Collector, ErrorCode
from server.core.languages import UNDETERMINED, LanguageError, standard_tag
from server.core.validation import clean_text
from server.models import DatasetKeyword, LanguageText
from server.texts.service import TextValue

MAX_LENGTH = 100
MAX_PER_LANGUAGE = 50  # as many as plain keywords ever allowed
MAX_KEYWORDS = 500
FIELD = "keywordTexts"


@dataclass(frozen=True)
class Keyword:
    lang: str
    value: str
    translated: bool
    position: int


@dataclass(frozen=True)
class PendingKeywords:
    """A checked write: the tagged list (None: plain keywords alone) and the originals."""

    keywords: list[Keyword] | None
    originals: list[str]


def _plain(errors: Collector, raw: Sequence[str] | None) -> list[str]:
    """Plain keywords as before: blanks dropped, each once."""
    words: list[str] = []
    for item in raw or []:
        word = clean_text(errors, "keywords", item, max_len=MAX_LENGTH)
        if word and word not in words:
            words.append(word)
    if len(words) > MAX_PER_LANGUAGE:
        errors.add(ErrorCode.TOO_MANY, f"at most {MAX_PER_LANGUAGE} keywords", "keywords")
    return words


def _tagged(errors: Collector, items: Sequence[TextValue]) -> list[Keyword] | None:
    if len(items) > MAX_KEYWORDS:
        errors.add(ErrorCode.TOO_MANY, f"{FIELD}: at most {MAX_KEYWORDS} keywords", FIELD)
        return None
    before = len(errors.details)
    seen: dict[tuple[str, str], int] = {}
    keywords: list[Keyword] = []
    for i, item in enumerate(items):
        at = f"{FIELD}[{i}]"
        try:
            tag: str | None = standard_tag(item.lang, f"{at}.lang")
        except LanguageError as error:
            errors.details.extend(error.details)
            tag = None
        value = clean_text(errors, f"{at}.value", item.value, max_len=MAX_LENGTH, required=True)
        if tag is None or value is None:
            continue
        key = (tag.lower(), value.casefold())
        if key in seen:
            errors.add(
                ErrorCode.DUPLICATE,
                f"{FIELD} has {value!r} twice in {tag} ({seen[key]} and {i})",
                f"{at}.value",
            )
            continue
        seen[key] = i
        keywords.append(Keyword(tag, value, item.translated, len(keywords)))
    for tag, count in Counter(k.lang.lower() for k in keywords).items():
        if count > MAX_PER_LANGUAGE:
            errors.add(
                ErrorCode.TOO_MANY, f"{FIELD}: at most {MAX_PER_LANGUAGE} keywords in {tag}", FIELD
            )
    if items and all(item.translated for item in items):
        errors.add(ErrorCode.NO_ORIGINAL, f"{FIELD}: every keyword is a translation", FIELD)
    return None if len(errors.details) > before else keywords


def check_keywords(errors: Collector, values: dict[str, Any]) -> PendingKeywords | None:
    """The write of the keywords a client sent as `keyword_texts` and/or `keywords` (None
    when neither); both sent: the plain ones must be the originals (CONFLICT otherwise)."""
    if "keyword_texts" in values:  # null clears, as []
        keywords = _tagged(errors, values["keyword_texts"] or [])
        if keywords is None:
            return None
        originals = [k.value for k in keywords if not k.translated]
        if values.get("keywords") is not None and _plain(errors, values["keywords"]) != originals:
            errors.add(ErrorCode.CONFLICT, f"keywords are not the originals of {FIELD}", "keywords")
        return PendingKeywords(keywords, originals)
    if "keywords" in values:
        return PendingKeywords(None, _plain(errors, values.get("keywords")))
    return None


async def dataset_language(session: AsyncSession, dataset_id: int) -> str:
    """The language of the dataset's title's original, else `und`."""
    lang = await session.scalar(
        select(LanguageText.lang).where(
            LanguageText.dataset_id == dataset_id,
            LanguageText.field == "title",
            LanguageText.original.is_(True),
        )
    )
    return lang or UNDETERMINED


async def keywords_of(session: AsyncSession, dataset_id: int) -> list[DatasetKeyword]:
    rows = await session.scalars(
        select(DatasetKeyword)
        .where(DatasetKeyword.dataset_id == dataset_id)
        .order_by(DatasetKeyword.position, DatasetKeyword.id)
    )
    return list(rows)


async def _from_plain(session: AsyncSession, dataset_id: int, words: list[str]) -> list[Keyword]:
    rows = await keywords_of(session, dataset_id)
    lang = next((r.lang for r in rows if not r.translated), None)
    lang = lang or await dataset_language(session, dataset_id)
    originals = [Keyword(lang, w, False, i) for i, w in enumerate(words)]
    taken = {(lang.lower(), w.casefold()) for w in words}
    kept = [r for r in rows if r.translated and (r.lang.lower(), r.value.casefold()) not in taken]
    return originals + [
        Keyword(r.lang, r.value, True, len(originals) + i) for i, r in enumerate(kept)
    ]


async def write_keywords(session: AsyncSession, dataset_id: int, pending: PendingKeywords) -> None:
    """The dataset's keyword rows after a checked write."""
    keywords = pending.keywords
    if keywords is None:
        keywords = await _from_plain(session, dataset_id, pending.originals)
    await session.execute(delete(DatasetKeyword).where(DatasetKeyword.dataset_id == dataset_id))
    session.add_all(
        DatasetKeyword(
            dataset_id=dataset_id,
            lang=k.lang,
            value=k.value,
            translated=k.translated,
            position=k.position,
        )
        for k in keywords
    )
    await session.flush()


async def keywords_by_dataset(
    session: AsyncSession, ids: Sequence[int]
) -> dict[int, list[DatasetKeyword]]:
    """The keyword rows of each dataset, in order (a dataloader's fetch)."""
    rows = await session.scalars(
        select(DatasetKeyword)
        .where(DatasetKeyword.dataset_id.in_(ids))
        .order_by(DatasetKeyword.position, DatasetKeyword.id)
    )
    found: dict[int, list[DatasetKeyword]] = {}
    for row in rows:
        found.setdefault(row.dataset_id, []).append(row)
    return found
