"""The interface's languages: gettext catalogues managed with Babel, compiled for the browser.

`locales/dashboard.pot` is extracted from frontend/ (`babel.cfg`: Babel's javascript extractor
on `_()`/`ngettext()` calls, `extract_html` below on index.html); `locales/<lang>/LC_MESSAGES/
dashboard.po` are the translations. The server reads the .po files at start-up and serves each
as JSON (`compile_catalogue`); a language is offered when its catalogue is there. The page's
language comes from Accept-Language (`negotiate`, reading the header with the API's own
parser: server.core.languages.accepted_languages), or the switch on the page.

Only the interface is translated: the API's error messages stay English, with stable codes.
"""

from __future__ import annotations

import gettext
from collections.abc import Iterator, Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

from babel import Locale, negotiate_locale
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from server.core.languages import accepted_languages

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "dashboard"
DEFAULT_LOCALE = "en"


def available_locales(locales_dir: Path = LOCALES_DIR) -> list[str]:
    """The languages with a catalogue, the default first."""
    found = sorted(p.parent.parent.name for p in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return sorted(found, key=lambda code: code != DEFAULT_LOCALE)


def negotiate(header: str | None, available: list[str], default: str = DEFAULT_LOCALE) -> str:
    """The best of `available` for an Accept-Language header (Babel's negotiate_locale: an
    exact tag, else its language: `ja-JP` -> `ja`), else `default`."""
    preferred = list(accepted_languages(header))
    chosen = negotiate_locale(preferred, available, sep="-", aliases={})
    if chosen is None:
        return default
    by_lower = {code.lower(): code for code in available}
    return by_lower.get(chosen.lower(), default)


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, domain=DOMAIN)


def _plural_categories(catalog: Catalog) -> dict[str, int]:
    """CLDR plural category -> index of the gettext forms, found by evaluating the catalogue's
    Plural-Forms at a sample integer of each category (the browser picks the category with
    Intl.PluralRules, so it never evaluates the expression)."""
    index_of = gettext.c2py(catalog.plural_expr)
    rule = Locale.parse(str(catalog.locale)).plural_form
    found: dict[str, int] = {}
    for n in range(200):  # every integer category shows up below 200 in CLDR's rules
        found.setdefault(rule(n), index_of(n))
    return found


def compile_catalogue(catalog: Catalog) -> dict[str, Any]:
    """`{"locale": "ja", "messages": {msgid: text | {category: text}}}` (a msgid with a
    context keyed `context\x04msgid`): translated, not fuzzy messages only (an untranslated
    one falls back to the English msgid in the page)."""
    categories = _plural_categories(catalog) if catalog.num_plurals else {}
    messages: dict[str, Any] = {}
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        key = f"{message.context}\x04{msgid}" if message.context else msgid  # as gettext's .mo
        if not isinstance(message.id, str):
            forms = message.string if isinstance(message.string, tuple) else ()
            if forms and all(forms):
                messages[key] = {c: forms[i] for c, i in categories.items()}
        elif message.string:
            messages[key] = message.string
    return {"locale": str(catalog.locale).replace("_", "-"), "messages": messages}


def compiled_catalogues(locales_dir: Path = LOCALES_DIR) -> dict[str, dict[str, Any]]:
    """Each catalogue compiled, keyed by its BCP 47 tag (the directory `pt_BR` is `pt-BR`, as
    HTML's lang, Accept-Language and the browser's Intl spell it)."""
    return {
        code.replace("_", "-"): compile_catalogue(
            read_catalogue(locales_dir / code / "LC_MESSAGES" / f"{DOMAIN}.po")
        )
        for code in available_locales(locales_dir)
    }


# ---- extraction from index.html (a Babel extractor, named in babel.cfg) ----


class _MarkedText(HTMLParser):
    """Collects the text of elements marked `data-i18n` and the attributes they name in
    `data-i18n-attrs` (marked elements hold text only: no child elements)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._open: tuple[int, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        line = self.getpos()[0]
        for name in (values.get("data-i18n-attrs") or "").split():
            if values.get(name):
                self.found.append((line, str(values[name])))
        if "data-i18n" in values:
            self._open = (line, [])

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._open is not None:
            line, parts = self._open
            text = " ".join("".join(parts).split())
            if text:
                self.found.append((line, text))
            self._open = None


def extract_html(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: list[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str, str, list[str]]]:
    parser = _MarkedText()
    parser.feed(fileobj.read().decode(options.get("encoding", "utf-8")))
    parser.close()
    for line, text in parser.found:
        yield line, "_", text, []
