"""ISO 639 language codes of the learning materials."""

from __future__ import annotations

import pycountry


def normalize_language(value: str) -> str | None:
    """An ISO 639 code as stored: the 639-1 two-letter code when the language has one
    (so "eng" and "en" are the same language), else its 639-3 code; None if unknown.
    Accepts 639-1, 639-3 and 639-2/B (bibliographic, e.g. "fre") codes, any case."""
    code = value.strip().lower()
    language = None
    if len(code) == 2 and code.isalpha():
        language = pycountry.languages.get(alpha_2=code)
    elif len(code) == 3 and code.isalpha():
        language = pycountry.languages.get(alpha_3=code) or pycountry.languages.get(
            bibliographic=code
        )
    if language is None:
        return None
    return getattr(language, "alpha_2", None) or language.alpha_3


def language_name(code: str) -> str | None:
    language = pycountry.languages.get(**{"alpha_2" if len(code) == 2 else "alpha_3": code})
    return language.name if language is not None else None
