"""A public record as DataCite metadata (schema 4.5): the attributes the DataCite REST API
takes (`POST /dois`, `PUT /dois/{id}`) and the kernel-4 resource XML (content negotiation,
OAI-PMH `oai_datacite`). The XML is written by the `datacite` package from the same JSON, so
the two never disagree.

Bad input is mended, never refused, and each mend is a warning the caller keeps (the PID
row's reason): characters XML cannot carry are removed; a title past `TITLE_MAX` is cut at a
word with an ellipsis (DataCite's schemas set no maximum, but a title that long is a
description, and citation styles and indexes choke on it: 500 is also what our services
allow); a version with no creator is credited to its publisher as an organisation."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from datacite import schema45

from server.publishing.record import (
    ORCID,
    ROR,
    SPDX,
    UND,
    Organisation,
    Person,
    Text,
    VersionRecord,
    pick,
)
from server.publishing.urls import absolute, dataset_path, version_path

SCHEMA_VERSION = "http://datacite.org/schema/kernel-4"
TITLE_MAX = 500
ELLIPSIS = "…"
# XML 1.0 cannot carry C0 controls (but tab, newline, return), lone surrogates, U+FFFE/FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Funder:
    """A funding reference (the `datacite_funders` setting): a name and, when known, its
    identifier (a ROR URL or a Crossref Funder ID DOI URL)."""

    name: str
    identifier: str | None = None

    @classmethod
    def parse(cls, entry: str) -> Funder:
        """`Name` or `Name|identifier`."""
        name, _, identifier = entry.partition("|")
        return cls(name.strip(), identifier.strip() or None)

    @property
    def identifier_type(self) -> str:
        ident = self.identifier or ""
        if ident.startswith(ROR):
            return "ROR"
        if "10.13039/" in ident:
            return "Crossref Funder ID"
        return "Other"


@dataclass
class Document:
    """DataCite attributes and what had to be mended to write them."""

    attributes: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def to_datacite_json(
    record: VersionRecord,
    *,
    doi: str,
    base_url: str,
    concept_doi: str | None = None,
    dois: Mapping[int, str] | None = None,
    funders: Sequence[Funder] = (),
) -> dict[str, Any]:
    """The DataCite attributes of a version's DOI. `dois` maps the ids of the dataset's other
    versions to their DOIs (for IsNewVersionOf / IsPreviousVersionOf); those it lacks are
    left out."""
    return version_document(
        record, doi=doi, base_url=base_url, concept_doi=concept_doi, dois=dois, funders=funders
    ).attributes


def to_datacite_xml(
    record: VersionRecord,
    *,
    doi: str,
    base_url: str,
    concept_doi: str | None = None,
    dois: Mapping[int, str] | None = None,
    funders: Sequence[Funder] = (),
) -> str:
    """The kernel-4 resource XML of a version's DOI (same arguments as `to_datacite_json`)."""
    attributes = to_datacite_json(
        record, doi=doi, base_url=base_url, concept_doi=concept_doi, dois=dois, funders=funders
    )
    return xml_of(attributes)


def xml_of(attributes: Mapping[str, Any]) -> str:
    text: str = schema45.tostring(dict(attributes))
    return text


def valid(attributes: Mapping[str, Any]) -> bool:
    """Whether attributes meet the DataCite 4.5 JSON schema (the `datacite` package's)."""
    return bool(schema45.validate(dict(attributes)))


def version_document(
    record: VersionRecord,
    *,
    doi: str,
    base_url: str,
    concept_doi: str | None = None,
    dois: Mapping[int, str] | None = None,
    funders: Sequence[Funder] = (),
) -> Document:
    known = dois or {}
    related: list[dict[str, str]] = []
    if concept_doi:
        related.append(_related(concept_doi, "IsVersionOf"))
    previous = known.get(record.previous_version_id or 0)
    if previous:
        related.append(_related(previous, "IsNewVersionOf"))
    newer = known.get(record.newer_version_ids[0]) if record.newer_version_ids else None
    if newer:
        related.append(_related(newer, "IsPreviousVersionOf"))
    url = absolute(base_url, version_path(record.dataset_id, record.number))
    return _document(record, doi, url, related, funders, version=str(record.number))


def concept_document(
    record: VersionRecord,
    *,
    doi: str,
    base_url: str,
    version_dois: Sequence[str] = (),
    funders: Sequence[Funder] = (),
) -> Document:
    """The concept DOI's metadata: the latest public version's, pointing at the dataset's
    page, with a HasVersion link to each version's DOI (as InvenioRDM and Zenodo do)."""
    related = [_related(v, "HasVersion") for v in version_dois]
    url = absolute(base_url, dataset_path(record.dataset_id))
    return _document(record, doi, url, related, funders, version=None)


# ---- the attributes ----------------------------------------------------------------------


def _document(
    record: VersionRecord,
    doi: str,
    url: str,
    related: list[dict[str, str]],
    funders: Sequence[Funder],
    *,
    version: str | None,
) -> Document:
    warnings: list[str] = []
    attributes: dict[str, Any] = {
        "doi": doi,
        "url": url,
        "types": {"resourceTypeGeneral": "Dataset", "resourceType": "Dataset"},
        "creators": _creators(record, warnings),
        "titles": _titles(record.titles, warnings),
        "publisher": _publisher(record.publisher),
        "publicationYear": str(record.publication_year),
        "subjects": _subjects(record),
        "contributors": [_person(p, "ProjectLeader") for p in record.contributors],
        "dates": _dates(record),
        "relatedIdentifiers": related,
        "sizes": _sizes(record),
        "formats": sorted({f.media_type for f in record.files if f.media_type}),
        "rightsList": _rights(record),
        "descriptions": _descriptions(record),
        "geoLocations": _geo(record),
        "fundingReferences": _funding(record, funders),
        "schemaVersion": SCHEMA_VERSION,
    }
    if version is not None:
        attributes["version"] = version
    if language := _language(record):
        attributes["language"] = language
    attributes = {k: v for k, v in attributes.items() if v not in ([], None, "")}
    return Document(_clean(attributes, warnings), warnings)


def _lang(text: Text) -> dict[str, str]:
    return {} if text.lang == UND else {"lang": text.lang}


def _titles(texts: Sequence[Text], warnings: list[str]) -> list[dict[str, str]]:
    """The original title first (the main title), then its translations."""
    out: list[dict[str, str]] = []
    main = next((t for t in texts if t.original), texts[0] if texts else None)
    for text in sorted(texts, key=lambda t: t is not main):
        clean = _NOT_XML.sub("", text.value).strip()
        value = _fit(clean, TITLE_MAX)
        if value != clean:
            warnings.append(f"title ({text.lang}) cut to {TITLE_MAX} characters")
        item = {"title": value, **_lang(text)}
        if text is not main:
            item["titleType"] = "TranslatedTitle"
        if value.strip() and item not in out:
            out.append(item)
    return out or [{"title": "(untitled)"}]


def _fit(value: str, limit: int) -> str:
    """`value` within `limit` characters: cut at the last space before it when there is one
    in the last fifth, with an ellipsis."""
    value = value.strip()
    if len(value) <= limit:
        return value
    cut = value[: limit - len(ELLIPSIS)]
    space = cut.rfind(" ")
    if space > limit * 4 // 5:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _organisation(org: Organisation) -> dict[str, Any]:
    out: dict[str, Any] = {"name": org.name}
    if org.ror_url:
        out |= {
            "affiliationIdentifier": org.ror_url,
            "affiliationIdentifierScheme": "ROR",
            "schemeUri": ROR,
        }
    return out


def _person(person: Person, contributor_type: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": person.name, "nameType": "Personal"}
    if contributor_type:
        out["contributorType"] = contributor_type
    if person.orcid_url:
        out["nameIdentifiers"] = [
            {
                "nameIdentifier": person.orcid_url,
                "nameIdentifierScheme": "ORCID",
                "schemeUri": ORCID,
            }
        ]
    affiliations = [_organisation(o) for o in person.affiliations]
    if affiliations:
        out["affiliation"] = [a for i, a in enumerate(affiliations) if a not in affiliations[:i]]
    return out


def _creators(record: VersionRecord, warnings: list[str]) -> list[dict[str, Any]]:
    people = [_person(p) for p in record.creators if p.name.strip()]
    if people:
        return people
    warnings.append("no creator: the publisher is credited as the creator")
    org = record.publisher
    creator: dict[str, Any] = {"name": org.name, "nameType": "Organizational"}
    if org.ror_url:
        creator["nameIdentifiers"] = [
            {"nameIdentifier": org.ror_url, "nameIdentifierScheme": "ROR", "schemeUri": ROR}
        ]
    return [creator]


def _publisher(org: Organisation) -> dict[str, str]:
    out = {"name": org.name}
    if org.ror_url:
        out |= {
            "publisherIdentifier": org.ror_url,
            "publisherIdentifierScheme": "ROR",
            "schemeUri": ROR,
        }
    return out


def _subjects(record: VersionRecord) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for keyword in record.keywords:
        out.append({"subject": keyword.value, **_lang(keyword)})
    for theme in record.themes:
        name = pick(theme.names)
        label = name.value if name else theme.code
        out.append({"subject": label, "subjectScheme": "SATREPS themes", **_lang_of(name)})
    return [s for i, s in enumerate(out) if s["subject"].strip() and s not in out[:i]]


def _lang_of(text: Text | None) -> dict[str, str]:
    return _lang(text) if text else {}


def _dates(record: VersionRecord) -> list[dict[str, str]]:
    out = [{"date": record.published_at.date().isoformat(), "dateType": "Issued"}]
    if record.embargo_until is not None:
        out.append({"date": record.embargo_until.isoformat(), "dateType": "Available"})
    cover = record.coverage
    if cover.has_time:
        start = cover.time_start.date().isoformat() if cover.time_start else ""
        end = cover.time_end.date().isoformat() if cover.time_end else ""
        span = start if start == end else f"{start}/{end}"
        out.append({"date": span, "dateType": "Collected"})
    return out


def _related(doi: str, relation: str) -> dict[str, str]:
    return {"relatedIdentifier": doi, "relatedIdentifierType": "DOI", "relationType": relation}


def _sizes(record: VersionRecord) -> list[str]:
    if not record.files:
        return []
    count = len(record.files)
    return [f"{count} file{'s' if count != 1 else ''}", f"{record.size} bytes"]


def _rights(record: VersionRecord) -> list[dict[str, str]]:
    licence = record.licence.strip()
    if not licence:
        return []
    out = {"rights": licence}
    if record.licence_url:
        out |= {
            "rightsUri": record.licence_url,
            "rightsIdentifier": licence,
            "rightsIdentifierScheme": "SPDX",
            "schemeUri": SPDX,
        }
    return [out]


def _descriptions(record: VersionRecord) -> list[dict[str, str]]:
    out = [
        {"description": t.value, "descriptionType": "Abstract", **_lang(t)}
        for t in record.descriptions
        if t.value.strip()
    ]
    if record.note and record.note.strip():
        out.append({"description": record.note, "descriptionType": "Other"})
    return out


def _geo(record: VersionRecord) -> list[dict[str, Any]]:
    c = record.coverage
    if c.west is None or c.east is None or c.south is None or c.north is None:
        return []
    box = {
        "westBoundLongitude": c.west,
        "eastBoundLongitude": c.east,
        "southBoundLatitude": c.south,
        "northBoundLatitude": c.north,
    }
    return [{"geoLocationBox": box}]


def _funding(record: VersionRecord, funders: Sequence[Funder]) -> list[dict[str, str]]:
    title = pick(record.project.titles)
    out: list[dict[str, str]] = []
    for funder in funders:
        item = {"funderName": funder.name}
        if funder.identifier:
            item |= {
                "funderIdentifier": funder.identifier,
                "funderIdentifierType": funder.identifier_type,
            }
        if title:
            item["awardTitle"] = title.value
        out.append(item)
    return out


def _language(record: VersionRecord) -> str | None:
    """The language the title was written in, when known."""
    for text in record.titles:
        if text.original and text.lang != UND:
            return text.lang
    return None


def _clean(value: Any, warnings: list[str]) -> Any:
    """`value` with every string stripped of what XML cannot carry (one warning per field)."""
    if isinstance(value, str):
        cleaned = _NOT_XML.sub("", value)
        if cleaned != value and "characters XML cannot carry removed" not in warnings:
            warnings.append("characters XML cannot carry removed")
        return cleaned
    if isinstance(value, dict):
        return {k: _clean(v, warnings) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, warnings) for v in value]
    return value
