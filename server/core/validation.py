"""Checks of identifiers and free text shared by every domain service."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Literal

import idutils
import pycountry
from license_expression import get_spdx_licensing

from server.core.errors import Collector, DomainError, ErrorCode

_ROR_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_ROR_RE = re.compile(r"^(?:https?://ror\.org/)?(0[0-9a-hjkmnp-tv-z]{6}[0-9]{2})$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SPDX = get_spdx_licensing()
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def ror_checksum(body: str) -> int:
    """ISO 7064 Mod 97-10 over the base32 value of the first seven characters."""
    number = 0
    for char in body:
        number = number * 32 + _ROR_ALPHABET.index(char)
    return 98 - (number * 100) % 97


def normalize_ror(value: str) -> str | None:
    """The 9-character ROR id, or None when the format or checksum is wrong."""
    match = _ROR_RE.match(value.strip())
    if not match:
        return None
    rid = match.group(1).lower()
    return rid if ror_checksum(rid[:7]) == int(rid[7:]) else None


_ORCID_RE = re.compile(
    r"^(?:https?://orcid\.org/)?(\d{4})[- ]?(\d{4})[- ]?(\d{4})[- ]?(\d{3}[\dX])$", re.IGNORECASE
)


def orcid_problem(value: str) -> Literal["format", "checksum", "range"] | None:
    """What is wrong with an ORCID iD: its format (16 digits, the last may be X, in groups of
    four, optionally as an orcid.org URL), its ISO 7064 MOD 11-2 check digit, or the range
    (a valid ISNI outside the blocks ORCID issues from); None when it is an ORCID iD."""
    value = value.strip()
    match = _ORCID_RE.match(value)
    if match is None:
        return "format"
    if not idutils.is_isni("".join(match.groups())):
        return "checksum"
    return None if idutils.is_orcid(value) else "range"


def normalize_orcid(value: str) -> str | None:
    """ORCID as 0000-0000-0000-000X, or None when format, checksum or range fails."""
    value = value.strip()
    match = _ORCID_RE.match(value)
    if match is None or orcid_problem(value) is not None:
        return None
    return "-".join(match.groups()).upper()


def normalize_country(value: str) -> str | None:
    code = value.strip().upper()
    return code if len(code) == 2 and pycountry.countries.get(alpha_2=code) else None


def clean_text(
    errors: Collector,
    field: str,
    value: str | None,
    *,
    max_len: int,
    required: bool = False,
) -> str | None:
    """NFC-normalised, stripped text; records REQUIRED / TOO_LONG / INVALID_TEXT (control
    characters, or a lone UTF-16 surrogate: JSON's `\\ud800` escape decodes to one, and no
    database can store it)."""
    if value is None or not value.strip():
        if required:
            errors.add(ErrorCode.REQUIRED, f"{field} is required", field)
        return None
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > max_len:
        errors.add(ErrorCode.TOO_LONG, f"{field} is longer than {max_len} characters", field)
    elif any(unicodedata.category(c) == "Cc" and c not in "\n\t\r" for c in text):
        errors.add(ErrorCode.INVALID_TEXT, f"{field} contains control characters", field)
    elif any("\ud800" <= c <= "\udfff" for c in text):
        errors.add(ErrorCode.INVALID_TEXT, f"{field} contains a lone surrogate", field)
    return text


def check_email(errors: Collector, field: str, value: str | None) -> str | None:
    text = clean_text(errors, field, value, max_len=320)
    if text is not None and not _EMAIL_RE.match(text):
        errors.add(ErrorCode.INVALID_EMAIL, f"{field} is not an email address", field)
    return text


def check_url(errors: Collector, field: str, value: str | None) -> str | None:
    text = clean_text(errors, field, value, max_len=500)
    if text is not None and not _URL_RE.match(text):
        errors.add(ErrorCode.INVALID_URL, f"{field} must be an http(s) URL", field)
    return text


def check_period(
    errors: Collector, start: dt.date | None, end: dt.date | None, field: str = "endDate"
) -> None:
    if start is not None and end is not None and end < start:
        errors.add(ErrorCode.INVALID_PERIOD, "the end date is before the start date", field)


def normalize_licence(value: str) -> str | None:
    """The normalised SPDX license expression (e.g. "mit or cc-by-4.0" becomes
    "MIT OR CC-BY-4.0"), or None when it is not a valid expression of known SPDX ids."""
    try:
        info = _SPDX.validate(value.strip())
    except Exception:  # the parser raises on some malformed input instead of reporting it
        return None
    if info.errors or not info.normalized_expression:
        return None
    return str(info.normalized_expression)


def year_bounds(year: int, field: str = "year") -> tuple[dt.date, dt.date]:
    """The first and last day of a calendar year a filter names (1 to 9999: Python's dates)."""
    if not dt.MINYEAR <= year <= dt.MAXYEAR:
        raise DomainError.one(
            ErrorCode.INVALID_YEAR, f"{field} must be between {dt.MINYEAR} and {dt.MAXYEAR}", field
        )
    return dt.date(year, 1, 1), dt.date(year, 12, 31)
