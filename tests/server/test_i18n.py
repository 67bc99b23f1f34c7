"""The interface's catalogues (server/http/locales/): current with the sources (a fresh Babel
extraction finds exactly the committed msgids), complete in Japanese, compiled for the browser
with the right plural forms; and the negotiation of Accept-Language."""

from __future__ import annotations

import io
import re
import tomllib
from collections import Counter
from fnmatch import fnmatch
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

from server.core.languages import accepted_languages
from server.http.i18n import (
    DOMAIN,
    LOCALES_DIR,
    available_locales,
    compile_catalogue,
    compiled_catalogues,
    extract_html,
    negotiate,
    read_catalogue,
)

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
TEMPLATES = ROOT / "server" / "http" / "templates"  # the landing pages (server/http/landing.py)
POT = LOCALES_DIR / f"{DOMAIN}.pot"
PLACEHOLDER = re.compile(r"\{\w+\}")
# a marked call with a literal first argument, as Babel's javascript extractor reads them
CALL = re.compile(r"(?<![\w.$])(?:_|pgettext|ngettext)\(\s*\"")


def keys(catalog: Catalog) -> set[tuple[str | None, str]]:
    return {(m.context, m.id[0] if isinstance(m.id, tuple) else m.id) for m in catalog if m.id}


def extract(tmp_path: Path) -> Catalog:
    """The README's extraction command, run through Babel's own command line."""
    out = tmp_path / "fresh.pot"
    CommandLineInterface().run(
        [
            "pybabel",
            "-q",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "--ignore-dirs=node_modules .* _*",
            "--add-comments=i18n:",
            "--no-wrap",
            "-o",
            str(out),
            str(FRONTEND),
            str(TEMPLATES),
        ]
    )
    with out.open("rb") as f:
        return read_po(f)


def test_the_template_is_current_with_the_sources(tmp_path: Path) -> None:
    fresh = extract(tmp_path)
    committed = read_catalogue(POT)
    assert keys(fresh) - keys(committed) == set(), "new strings: re-extract (README)"
    assert keys(committed) - keys(fresh) == set(), "strings gone from the sources: re-extract"
    assert len(keys(fresh)) > 100


def test_every_marked_call_in_the_scripts_is_extracted(tmp_path: Path) -> None:
    """A call Babel cannot read (inside a template literal, say) would stay English."""
    fresh = extract(tmp_path)
    extracted = Counter(Path(name).parts[-2:] for m in fresh for name, _line in m.locations)
    for script in sorted((FRONTEND / "src").glob("*.js")):
        source = script.read_text().splitlines()
        calls = {
            number
            for number, line in enumerate(source, 1)
            if CALL.search(line) and not line.lstrip().startswith(("//", "*", "/*"))
        }
        lines = {
            line
            for m in fresh
            for name, line in m.locations
            if Path(name).parts[-2:] == ("src", script.name)
        }
        assert lines == calls, script.name
    for script in ("main.js", "vocab.js", "charts.js", "search.js"):
        assert extracted["src", script], script


def test_html_marks_are_extracted() -> None:
    page = b"""<html><head><title data-i18n>A  page</title></head><body>
    <input placeholder="Find" aria-label="Find things" data-i18n-attrs="placeholder aria-label">
    <span data-i18n>Japan &#8596; partner</span><h1>Not marked</h1></body></html>"""
    found = [(line, text) for line, _f, text, _c in extract_html(io.BytesIO(page), {}, [], {})]
    assert found == [(1, "A page"), (2, "Find"), (2, "Find things"), (3, "Japan \u2194 partner")]


@pytest.mark.parametrize("code", ["en", "ja"])
def test_each_catalogue_holds_exactly_the_templates_strings(code: str) -> None:
    catalog = read_catalogue(LOCALES_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po")
    assert keys(catalog) == keys(read_catalogue(POT)), "run pybabel update (README)"
    assert str(catalog.locale) == code


def test_japanese_is_complete_and_keeps_every_placeholder() -> None:
    catalog = read_catalogue(LOCALES_DIR / "ja" / "LC_MESSAGES" / f"{DOMAIN}.po")
    assert catalog.num_plurals == 1
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {message.id!r}"
        wanted = set(PLACEHOLDER.findall(ids[0]))
        for text in strings:
            assert set(PLACEHOLDER.findall(text)) == wanted, (message.id, text)


def test_official_japanese_names() -> None:
    ja = compiled_catalogues()["ja"]["messages"]
    fields = {
        "Environment and Energy": "環境・エネルギー",
        "Bioresources": "生物資源",
        "Disaster Prevention and Mitigation": "防災",
        "Infectious Diseases Control": "感染症",
        "Global-scale Environmental Issues": "地球規模の環境課題",
    }
    components = {
        "Dispatch of experts": "専門家派遣",
        "Acceptance of training participants": "研修員受入",
        "Provision of equipment": "機材供与",
    }
    phases = {
        "Identification": "案件発掘・形成",
        "Requested": "要請",
        "Approved": "採択",
        "Follow up": "フォローアップ",
    }
    for english, japanese in {**fields, **components}.items():
        assert ja[english] == japanese
    for english, japanese in phases.items():
        assert ja[f"phase\x04{english}"] == japanese
    # the same English word, two meanings: a phase and an upload's state
    assert ja["phase\x04Rejected"] != ja["upload state\x04Rejected"]


def test_compiled_catalogues() -> None:
    compiled = compiled_catalogues()
    assert list(compiled) == available_locales() == ["en", "ja"]
    assert compiled["en"] == {"locale": "en", "messages": {}}  # English is the msgids
    ja = compiled["ja"]
    assert ja["locale"] == "ja"
    assert ja["messages"]["Projects by phase"] == "段階別プロジェクト数"
    assert ja["messages"]["{n} link"] == {"other": "{n} 件のつながり"}  # Japanese has one form
    assert len(ja["messages"]) == len(keys(read_catalogue(POT)))


def test_a_catalogue_is_offered_under_its_bcp47_tag(tmp_path: Path) -> None:
    """Adding a language is adding its .po: pybabel's directory `pt_BR` is offered as pt-BR."""
    for code in ("en", "pt_BR"):
        po = tmp_path / code / "LC_MESSAGES" / f"{DOMAIN}.po"
        po.parent.mkdir(parents=True)
        catalog = Catalog(locale=code)
        catalog.add("Search", "Pesquisar" if code != "en" else "")
        with po.open("wb") as f:
            write_po(f, catalog)
    compiled = compiled_catalogues(tmp_path)
    assert list(compiled) == ["en", "pt-BR"]
    assert compiled["pt-BR"] == {"locale": "pt-BR", "messages": {"Search": "Pesquisar"}}
    assert negotiate("pt-br,pt;q=0.8", list(compiled)) == "pt-BR"
    assert negotiate("pt", list(compiled)) == "en"  # no catalogue for plain pt


def test_plural_forms_map_to_cldr_categories() -> None:
    """The browser picks a form by Intl.PluralRules' category; the server maps each category
    to the gettext form the catalogue's Plural-Forms gives for it."""
    catalog = Catalog(locale="ru")
    catalog.add(("{n} file", "{n} files"), ("{n} файл", "{n} файла", "{n} файлов"))
    catalog.add("Not yet", "")
    catalog.add("Fuzzy", "Нечёткий", flags={"fuzzy"})
    catalog.add("Phase", "Этап", context="phase")
    compiled = compile_catalogue(catalog)
    assert compiled["messages"] == {
        "{n} file": {"one": "{n} файл", "few": "{n} файла", "many": "{n} файлов"},
        "phase\x04Phase": "Этап",
    }
    english = Catalog(locale="en")
    english.add(("{n} file", "{n} files"), ("{n} file", "{n} files"))
    assert compile_catalogue(english)["messages"]["{n} file"] == {
        "one": "{n} file",
        "other": "{n} files",
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("ja", "ja"),
        ("ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7", "ja"),
        ("JA-jp", "ja"),
        ("en-GB,en;q=0.9,ja;q=0.8", "en"),
        ("fr-FR, en;q=0.1, ja;q=0.5", "ja"),  # q orders, not position
        ("ja;q=0.5, en;q=0.5", "ja"),  # equal q: the header's order
        ("ja;q=0, en;q=0.1", "en"),  # q=0: not acceptable
        ("ja;q=0", "en"),
        ("fr, de", "en"),
        ("*", "en"),
        ("ja;q=2, en", "en"),  # a malformed weight: the entry is ignored
        ("ja;q=abc", "en"),
        ("<script>, ja", "ja"),
        ("x" * 10_000 + ",ja", "en"),  # only the header's first 512 characters are read
    ],
)
def test_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header, ["en", "ja"]) == expected


def test_accept_language_ranking() -> None:
    """One parser (server.core.languages) for the API's fallback chain and the dashboard."""
    assert accepted_languages("da, en-gb;q=0.8, en;q=0.7") == ("da", "en-GB", "en")
    assert accepted_languages("en;q=0.2,ja ; q = 0.9,th") == ("th", "ja", "en")
    assert accepted_languages(",,;q=1,") == ()
    # a malformed weight ignores its entry; q above 1, `*`, q=0 and non-languages likewise
    assert accepted_languages("fr;q=high, de;q=5, *, es;q=0, xx-y-zzzzzzzzz, ja") == ("ja",)
    assert accepted_languages("ja, JA-jp;q=0.5, ja;q=0.1") == ("ja", "ja-JP")  # each once
    assert accepted_languages("x" * 600 + ", ja") == ()  # read up to 512 characters
    assert len(accepted_languages(",".join(["th"] * 15 + ["ja"]))) == 2  # 16 entries
    assert accepted_languages(",".join(["th"] * 16 + ["ja"])) == ("th",)
    assert negotiate("ja-JP;q=0.9, en;q=0.8", ["en", "ja"]) == "ja"
    assert negotiate("en-gb, ja", ["en", "ja"]) == "en"


def test_the_catalogues_ship_in_the_package() -> None:
    """The server compiles them at start-up: an installed copy (the Docker image) needs them."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["server"]
    shipped = [POT, *LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")]
    assert len(shipped) == 3
    for path in shipped:
        name = path.relative_to(ROOT / "server").as_posix()
        assert any(fnmatch(name, p) for p in patterns), name
