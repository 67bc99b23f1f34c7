"""Simple Dublin Core (`oai_dc`, OAI-PMH's required format) of a public record, and the XML
text helpers of every OAI-PMH response: values are written as strings (fast, streamed), so
each one passes through `text` or `attr`, which drop what XML 1.0 cannot carry (control
characters, lone surrogates, U+FFFE/U+FFFF) and escape the rest."""

from __future__ import annotations

import datetime as dt
import re

from server.models.enums import AccessLevel
from server.publishing.record import UND, Text, VersionRecord
from server.publishing.urls import absolute, project_path, version_path

OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

# what XML 1.0 cannot carry: C0 controls other than tab, newline and carriage return,
# surrogates (a lone one reaches Python from a JSON \\ud800) and the two non-characters
_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;",
                       "\n": "&#10;", "\r": "&#13;"})  # fmt: skip

# info:eu-repo access levels (OpenAIRE guidelines), as dc:rights
OPEN_ACCESS = "info:eu-repo/semantics/openAccess"
EMBARGOED_ACCESS = "info:eu-repo/semantics/embargoedAccess"


def clean(value: str) -> str:
    """`value` without the characters XML 1.0 cannot carry."""
    return _ILLEGAL.sub("", value)


def text(value: str) -> str:
    """Element content: cleaned and escaped."""
    return clean(value).translate(_TEXT)


def attr(value: str) -> str:
    """An attribute's value (in double quotes): cleaned and escaped, whitespace kept."""
    return clean(value).translate(_ATTR)


def datestamp(value: dt.datetime) -> str:
    """OAI-PMH's UTC datestamp to the second (YYYY-MM-DDThh:mm:ssZ)."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _element(name: str, value: str, lang: str | None = None) -> str:
    tag = f"dc:{name}"
    if lang and lang != UND:
        return f'<{tag} xml:lang="{attr(lang)}">{text(value)}</{tag}>'
    return f"<{tag}>{text(value)}</{tag}>"


def _texts(name: str, values: tuple[Text, ...]) -> list[str]:
    return [_element(name, t.value, t.lang) for t in values if clean(t.value).strip()]


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def coverage(record: VersionRecord) -> list[str]:
    """The place (a DCMI Box) and the period (an ISO 8601 interval) as dc:coverage values,
    and the partner countries (ISO 3166-1 codes)."""
    found = []
    box = record.coverage
    if box.has_box and None not in (box.north, box.south, box.east, box.west):
        limits = zip(
            ("northlimit", "southlimit", "eastlimit", "westlimit"),
            (box.north, box.south, box.east, box.west),
            strict=True,
        )
        found.append("; ".join(f"{k}={_number(v)}" for k, v in limits if v is not None))
    if box.has_time:
        start = box.time_start.date().isoformat() if box.time_start else ""
        end = box.time_end.date().isoformat() if box.time_end else ""
        found.append(f"{start}/{end}")
    found.extend(record.project.countries)
    return found


def rights(record: VersionRecord, today: dt.date) -> list[str]:
    """The licence (its SPDX page, else the expression) and the access level today."""
    found = [record.licence_url or record.licence] if record.licence.strip() else []
    shut = record.access_level == AccessLevel.EMBARGOED and not (
        record.embargo_until and record.embargo_until <= today
    )
    found.append(EMBARGOED_ACCESS if shut else OPEN_ACCESS)
    return found


def languages(record: VersionRecord) -> list[str]:
    """The languages the record was written in (its original titles and descriptions)."""
    seen: dict[str, None] = {}
    for value in (*record.titles, *record.descriptions):
        if value.original and value.lang != UND:
            seen.setdefault(value.lang, None)
    return list(seen)


def identifiers(record: VersionRecord, base: str, doi: str | None = None) -> list[str]:
    """The landing page of the version, and its DOI (as a URL) when it has one."""
    found = [absolute(base, version_path(record.dataset_id, record.number))]
    if doi:
        found.append(f"https://doi.org/{doi}")
    return found


def oai_dc(record: VersionRecord, base: str, *, today: dt.date, doi: str | None = None) -> str:
    """The record as an `oai_dc:dc` element (the content of OAI-PMH's <metadata>)."""
    parts = [
        f'<oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" xmlns:xsi="{XSI_NS}"'
        f' xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">',
        *_texts("title", record.titles),
        *(_element("creator", p.name) for p in record.creators),
        *(_element("contributor", p.name) for p in record.contributors),
        *_texts("subject", record.keywords),
        *(_element("subject", theme.code) for theme in record.themes),
        *_texts("description", record.descriptions),
        _element("publisher", record.publisher.name),
        _element("date", record.published_at.date().isoformat()),
    ]
    if record.access_level == AccessLevel.EMBARGOED and record.embargo_until:
        end = record.embargo_until.isoformat()
        parts.append(_element("date", f"info:eu-repo/date/embargoEnd/{end}"))
    parts.append(_element("type", "Dataset"))
    parts.extend(_element("format", f) for f in sorted(_formats(record)))
    parts.extend(_element("identifier", i) for i in identifiers(record, base, doi))
    parts.append(_element("relation", absolute(base, project_path(record.project.id))))
    parts.extend(_element("language", lang) for lang in languages(record))
    parts.extend(_element("coverage", c) for c in coverage(record))
    parts.extend(_element("rights", r) for r in rights(record, today))
    parts.append("</oai_dc:dc>")
    return "".join(parts)


def _formats(record: VersionRecord) -> set[str]:
    return {f.media_type for f in record.files if f.media_type}
