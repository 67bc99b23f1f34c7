"""BCP 47 language tags (validated by langcodes against the IANA registry), the caller's
`Accept-Language`, the languages of countries, and the fallback chain that picks one value
of a language-tagged text: the asked language, then the caller's languages, then English,
then the original."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

import langcodes
from langcodes.tag_parser import LanguageTagError

from server.core.errors import DomainError, ErrorCode

MAX_TAG = 64  # RFC 5646 asks room for 35; private-use and extensions may be longer
MAX_ACCEPTED = 8  # an Accept-Language header's languages taken, best first
# a header longer than this, or with more entries, is cut: reading it stays cheap
MAX_HEADER = 512
MAX_RANGES = 16
_RANGE = re.compile(r"^([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)$")
_QUALITY = re.compile(r"^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$", re.IGNORECASE)
ENGLISH = "en"
UNDETERMINED = "und"

# The official language of a country where it is one (ISO 639-1 where it has one): a
# partner country's local name gets it; a country with several official languages, or
# one not listed, gets `und` (undetermined).
OFFICIAL_LANGUAGE: dict[str, str] = {
    "JP": "ja", "TH": "th", "VN": "vi", "ID": "id", "KH": "km", "LA": "lo", "MM": "my",
    "BD": "bn", "MN": "mn", "CN": "zh", "KR": "ko", "NP": "ne", "MY": "ms", "BR": "pt",
    "MX": "es", "AR": "es", "CL": "es", "CO": "es", "PE": "es", "EC": "es", "BO": "es",
    "PY": "es", "UY": "es", "VE": "es", "CR": "es", "GT": "es", "HN": "es", "NI": "es",
    "SV": "es", "PA": "es", "DO": "es", "CU": "es", "MZ": "pt", "AO": "pt", "ST": "pt",
    "GW": "pt", "FR": "fr", "SN": "fr", "CI": "fr", "GA": "fr", "CD": "fr", "BJ": "fr",
    "BF": "fr", "ML": "fr", "NE": "fr", "TG": "fr", "GN": "fr", "EG": "ar", "MA": "ar",
    "TN": "ar", "DZ": "ar", "JO": "ar", "SA": "ar", "IQ": "ar", "SY": "ar", "TR": "tr",
    "IR": "fa", "UZ": "uz", "KZ": "kk", "KG": "ky", "TJ": "tg", "ET": "am", "GB": "en",
    "US": "en", "AU": "en", "NG": "en", "GH": "en", "ZM": "en", "UA": "uk", "RU": "ru",
    "DE": "de", "IT": "it", "GR": "el", "HU": "hu", "PL": "pl", "MV": "dv", "BT": "dz",
    "TL": "und", "LK": "und", "IN": "und", "PK": "und", "PH": "und", "KE": "und",
    "TZ": "und", "UG": "und", "RW": "und", "CM": "und", "MG": "und", "BI": "und",
    "ZA": "und", "ZW": "und", "BW": "und", "NA": "und", "SD": "und", "DJ": "und",
    "CA": "und", "BE": "und", "CH": "und", "SG": "und", "FJ": "und", "PG": "und",
    "SB": "und", "VU": "und", "WS": "und", "TO": "und", "HT": "und", "PR": "und",
}  # fmt: skip


class LanguageError(DomainError):
    """A language tag that is malformed (INVALID_LANGUAGE_TAG) or names no registered
    language (UNKNOWN_LANGUAGE)."""


def standard_tag(raw: str, field: str | None = "lang") -> str:
    """The tag in its standard form (`EN-us` -> `en-US`, `ja_JP` -> `ja-JP`,
    `i-klingon` -> `tlh`), or LanguageError."""
    text = raw.strip()
    if not text or len(text) > MAX_TAG or not text.isascii():
        raise LanguageError.one(
            ErrorCode.INVALID_LANGUAGE_TAG, f"{raw[:20]!r} is not a BCP 47 language tag", field
        )
    try:
        tag = str(langcodes.standardize_tag(text))
    except (LanguageTagError, ValueError):
        raise LanguageError.one(
            ErrorCode.INVALID_LANGUAGE_TAG, f"{raw[:20]!r} is not a BCP 47 language tag", field
        ) from None
    if not langcodes.tag_is_valid(tag):
        raise LanguageError.one(
            ErrorCode.UNKNOWN_LANGUAGE, f"{raw[:20]!r} names no registered language", field
        )
    return tag


def primary(tag: str) -> str:
    """The language subtag: `ja` of `ja-Latn-JP`."""
    return tag.split("-", 1)[0].lower()


def _quality(params: list[str]) -> float | None:
    """An entry's weight (RFC 9110 12.4.2: 0 to 1, at most three decimals), None when one
    of its parameters is malformed (the entry is then ignored)."""
    quality = 1.0
    for param in params:
        matched = _QUALITY.match(param.replace(" ", ""))
        if matched is None:
            return None
        quality = float(matched.group(1))
    return quality


def accepted_languages(header: str | None) -> tuple[str, ...]:
    """The languages of an `Accept-Language` header (RFC 9110 12.5.4), best first (q-values,
    then their order), in standard form, each once: `*`, `q=0`, malformed entries and tags
    that name no language are left out; a header is read up to MAX_HEADER characters and
    MAX_RANGES entries, and gives at most MAX_ACCEPTED languages. The one parser of the
    header: the API's fallback chain and the dashboard's negotiation both use it."""
    if not header:
        return ()
    ranked: list[tuple[float, int, str]] = []
    for position, entry in enumerate(header[:MAX_HEADER].split(",")[:MAX_RANGES]):
        name, *params = (part.strip() for part in entry.split(";"))
        quality = _quality(params)
        if quality is None or quality <= 0 or not _RANGE.match(name) or name == "*":
            continue
        try:
            tag = standard_tag(name, None)
        except LanguageError:
            continue
        ranked.append((-quality, position, tag))
    seen: list[str] = []
    for _, _, tag in sorted(ranked):
        if tag not in seen:
            seen.append(tag)
    return tuple(seen[:MAX_ACCEPTED])


def preferences(asked: str | None, accepted: Sequence[str]) -> tuple[str, ...]:
    """The chain before the original: the asked language, the caller's, English."""
    chain: list[str] = []
    for tag in (asked, *accepted, ENGLISH):
        if tag is not None and tag not in chain:
            chain.append(tag)
    return tuple(chain)


def rank(tag: str, chain: Sequence[str]) -> int | None:
    """Where a text in `tag` stands in the chain: 2i for the i-th preference's exact tag,
    2i+1 for its language alone (`ja-JP` for `ja`, `en` for `en-GB`); None: not in it."""
    lowered = tag.lower()
    for i, wanted in enumerate(chain):
        if lowered == wanted.lower():
            return 2 * i
        if primary(lowered) == primary(wanted) and primary(wanted) != UNDETERMINED:
            return 2 * i + 1
    return None


class Tagged(Protocol):
    @property
    def lang(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def position(self) -> int: ...


def choose(texts: Iterable[Tagged], chain: Sequence[str]) -> Tagged | None:
    """The text the chain picks (ties: the earlier position), None when none is in it
    (the caller's last resort is the original)."""
    ranked = [(r, t.position, t) for t in texts if (r := rank(t.lang, chain)) is not None]
    return min(ranked, key=lambda item: item[:2])[2] if ranked else None


def local_language(country_code: str | None) -> str:
    """The language of a name in the country's own language, when the country has one."""
    return OFFICIAL_LANGUAGE.get((country_code or "").upper(), UNDETERMINED)
