"""Citations of a public record (server.publishing.citations): each style prints what it
should of a known record, HTML is escaped, and the exports read back with maintained parsers
(CSL-JSON against the official csl-data.json schema, BibTeX with bibtexparser, RIS with
rispy)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import bibtexparser
import jsonschema
import pytest
import rispy

from server.publishing import citations
from server.publishing.citations import CitationFormat, CitationStyle, csl_name, render
from server.publishing.record import Text
from tests.fixtures.publishing import KYOTO, LANDING, sample_record

SCHEMA = json.loads(
    (Path(__file__).parents[1] / "fixtures/data/csl/csl-data.json").read_text(encoding="utf-8")
)
DOI = "10.48550/hub.3.v2"


def with_doi(doi: str = DOI) -> object:
    """A record carrying a DOI, as persistent identifiers will add it."""

    @dataclasses.dataclass(frozen=True)
    class WithDoi(type(sample_record())):  # type: ignore[misc]
        doi: str | None = None

    return WithDoi(**{**sample_record().__dict__, "doi": doi})


# what each style prints of the sample record: creators, year, title, version, publisher, URL
EXPECTED = {
    CitationStyle.APA: "Yamada, T., & Somchai. (2024). River levels of the Chao Phraya"
    " (Version 2) [Dataset]. Kyoto University. " + LANDING,
    CitationStyle.CHICAGO_AUTHOR_DATE: "Yamada, T., and Somchai. 2024. “River Levels of the Chao Phraya”."
    " Version 2. Kyoto University, May 1. " + LANDING + ".",
    CitationStyle.HARVARD: "Yamada, T. and Somchai (2024) “River levels of the Chao Phraya”."
    " Kyoto University. Available at: " + LANDING + ".",
    CitationStyle.IEEE: "T. Yamada and Somchai, “River levels of the Chao Phraya”. Kyoto"
    " University, May 01, 2024. [Online]. Available: " + LANDING,
    CitationStyle.VANCOUVER: "Yamada T, Somchai. River levels of the Chao Phraya [Internet]."
    " Kyoto University; 2024. Available from: " + LANDING,
}


@pytest.mark.parametrize("style", list(CitationStyle))
def test_each_style_prints_the_record(style: CitationStyle) -> None:
    assert render(sample_record(), LANDING, style) == EXPECTED[style]


@pytest.mark.parametrize("style", list(CitationStyle))
def test_html_is_the_same_reference_escaped(style: CitationStyle) -> None:
    risky = sample_record(
        titles=(Text("en", "<script>alert(1)</script> & co"),),
        publisher=dataclasses.replace(KYOTO, name="A&B <Lab>"),
    )
    html = render(risky, LANDING, style, CitationFormat.HTML)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "A&amp;B &lt;Lab&gt;" in html
    plain = render(sample_record(), LANDING, style, CitationFormat.HTML)
    assert plain.replace("<i>", "").replace("</i>", "") == EXPECTED[style].replace("&", "&amp;")


def test_a_doi_is_cited_through_its_resolver() -> None:
    record = with_doi()
    apa = render(record, LANDING, CitationStyle.APA)  # type: ignore[arg-type]
    assert apa.endswith(f"Kyoto University. https://doi.org/{DOI}")
    ieee = render(record, LANDING, CitationStyle.IEEE)  # type: ignore[arg-type]
    assert f"doi: {DOI}" in ieee
    assert citations.csl_json(record, LANDING)["DOI"] == DOI  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("Taro Yamada", {"family": "Yamada", "given": "Taro"}),
        ("Ana de la Cruz", {"family": "de la Cruz", "given": "Ana"}),
        ("José María Álvarez", {"family": "Álvarez", "given": "José María"}),
        ("Yamada, Taro", {"family": "Yamada", "given": "Taro"}),
        ("Somchai", {"literal": "Somchai"}),
        ("山田 太郎", {"literal": "山田 太郎"}),
        ("สมชาย ประเสริฐ", {"literal": "สมชาย ประเสริฐ"}),
    ],
)
def test_names_split_only_when_the_name_allows(name: str, parts: dict[str, str]) -> None:
    assert csl_name(name) == parts


def test_csl_json_is_valid_against_the_official_schema() -> None:
    for record in (sample_record(), with_doi()):
        items = json.loads(citations.csl_json_text(record, LANDING))  # type: ignore[arg-type]
        jsonschema.validate(items, SCHEMA)
    item = items[0]
    assert item["type"] == "dataset" and item["version"] == "2"
    assert item["author"] == [{"family": "Yamada", "given": "Taro"}, {"literal": "Somchai"}]
    assert item["issued"] == {"date-parts": [[2024, 5, 1]]}
    assert item["publisher"] == "Kyoto University" and item["URL"] == LANDING


def test_bibtex_parses_back() -> None:
    record = sample_record(titles=(Text("en", "Salt & {pepper}: 50% of #1_x ~ 2^3 \\o/"),))
    library = bibtexparser.parse_string(citations.bibtex(record, LANDING))
    assert not library.failed_blocks
    (entry,) = library.entries
    assert entry.entry_type == "misc" and entry.key == "dataset3v2"
    fields = {f.key: f.value for f in entry.fields}
    assert fields["author"] == "Yamada, Taro and {Somchai}"
    assert fields["title"] == (
        r"Salt \& \{pepper\}: 50\% of \#1\_x \textasciitilde{} 2\textasciicircum{}3"
        r" \textbackslash{}o/"
    )
    assert fields["year"] == "2024" and fields["version"] == "2"
    assert fields["publisher"] == "Kyoto University" and fields["url"] == LANDING
    with_id = bibtexparser.parse_string(citations.bibtex(with_doi(), LANDING))  # type: ignore[arg-type]
    assert {f.key: f.value for f in with_id.entries[0].fields}["doi"] == r"10.48550/hub.3.v2"


def test_ris_parses_back() -> None:
    (entry,) = rispy.loads(citations.ris(with_doi(), LANDING))  # type: ignore[arg-type]
    assert entry["type_of_reference"] == "DATA"
    assert entry["authors"] == ["Yamada, Taro", "Somchai"]
    assert entry["title"] == "River levels of the Chao Phraya"
    assert entry["year"] == "2024" and entry["edition"] == "2"
    assert entry["publisher"] == "Kyoto University"
    assert entry["doi"] == DOI and entry["urls"] == [LANDING]
    assert entry["keywords"] == ["hydrology", "floods"]
