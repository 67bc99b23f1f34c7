"""What machines read on a landing page: schema.org `Dataset` / `ResearchProject` JSON-LD,
Dublin Core `<meta>` tags and FAIR Signposting links (https://signposting.org/FAIR/). Pure
functions of a record and the server's base URL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.publishing.citations import cite_url, doi_of
from server.publishing.record import Person, ProjectRef, Text, VersionRecord, pick
from server.publishing.urls import (
    absolute,
    catalog_path,
    dataset_path,
    file_path,
    project_path,
    version_path,
)

SCHEMA = "https://schema.org/"
# SATREPS is funded jointly by these two agencies
FUNDERS = (
    {"@type": "Organization", "name": "Japan Science and Technology Agency (JST)",
     "url": "https://www.jst.go.jp/"},
    {"@type": "Organization", "name": "Japan International Cooperation Agency (JICA)",
     "url": "https://www.jica.go.jp/"},
)  # fmt: skip
CATALOG_NAME = "SATREPS hub"


def version_url(base: str, record: VersionRecord) -> str:
    return absolute(base, version_path(record.dataset_id, record.number))


def file_url(base: str, record: VersionRecord, path: str) -> str:
    return absolute(base, file_path(record.dataset_id, record.number, path))


def _person(person: Person) -> dict[str, Any]:
    found: dict[str, Any] = {"@type": "Person", "name": person.name}
    if person.orcid_url:
        found["@id"] = person.orcid_url
        found["identifier"] = person.orcid_url
    if person.affiliations:
        found["affiliation"] = [
            {
                "@type": "Organization",
                "name": a.name,
                **({"@id": a.ror_url, "identifier": a.ror_url} if a.ror_url else {}),
            }
            for a in person.affiliations
        ]
    return found


def _texts(texts: Sequence[Text]) -> Any:
    """One value as a plain string; several as language-tagged values."""
    if len(texts) == 1:
        return texts[0].value
    return [{"@value": t.value, "@language": t.lang} for t in texts if t.lang != "und"] or [
        t.value for t in texts
    ]


def _iso(value: Any) -> str:
    return str(value.date().isoformat() if hasattr(value, "date") else value.isoformat())


def temporal_coverage(record: VersionRecord) -> str | None:
    """ISO 8601 interval (`2020-01-01/2023-12-31`, `..` for an open end)."""
    cov = record.coverage
    if not cov.has_time:
        return None
    start = _iso(cov.time_start) if cov.time_start else ".."
    end = _iso(cov.time_end) if cov.time_end else ".."
    return f"{start}/{end}"


def dataset_jsonld(base: str, record: VersionRecord, lang: str | None = None) -> dict[str, Any]:
    """schema.org Dataset of one version; distributions only for files the public may read."""
    url = version_url(base, record)
    doi = doi_of(record)
    identifiers = [f"https://doi.org/{doi}"] if doi else []
    found: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "Dataset",
        "@id": cite_url(record, url),
        "url": url,
        "name": _texts(record.titles),
        "identifier": identifiers + [url],
        "version": str(record.number),
        "datePublished": record.published_at.date().isoformat(),
        "creator": [_person(p) for p in record.creators],
        "publisher": {"@type": "Organization", "name": record.publisher.name}
        | ({"@id": record.publisher.ror_url} if record.publisher.ror_url else {}),
        "funder": list(FUNDERS),
        "keywords": [k.value for k in record.keywords],
        "isAccessibleForFree": True,
        "includedInDataCatalog": {
            "@type": "DataCatalog",
            "name": CATALOG_NAME,
            "url": absolute(base, catalog_path()),
        },
        "isPartOf": {
            "@type": "ResearchProject",
            "@id": absolute(base, project_path(record.project.id)),
            "name": _title(record.project, lang),
        },
    }
    if record.descriptions:
        found["description"] = _texts(record.descriptions)
    if record.contributors:
        found["contributor"] = [_person(p) for p in record.contributors]
    if record.licence_url:
        found["license"] = record.licence_url
    elif record.licence:
        found["license"] = record.licence
    if record.coverage.has_box:
        cov = record.coverage
        found["spatialCoverage"] = {
            "@type": "Place",
            "geo": {"@type": "GeoShape", "box": f"{cov.south} {cov.west} {cov.north} {cov.east}"},
        }
    if time := temporal_coverage(record):
        found["temporalCoverage"] = time
    if record.embargo_until and not record.files_public:
        found["conditionsOfAccess"] = f"Embargoed until {record.embargo_until.isoformat()}"
    found["distribution"] = [
        {
            "@type": "DataDownload",
            "name": f.path,
            "contentUrl": file_url(base, record, f.path),
            "encodingFormat": f.media_type or "application/octet-stream",
            "contentSize": f"{f.size} B",
            "sha256": f.sha256,
        }
        for f in record.files
        if f.public
    ]
    return found


def _title(project: ProjectRef, lang: str | None) -> str:
    text = pick(project.titles, lang)
    return text.value if text else ""


def project_jsonld(
    base: str,
    project: ProjectRef,
    summaries: Sequence[Text],
    institutions: Sequence[str],
    records: Sequence[VersionRecord],
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "@context": SCHEMA,
        "@type": "ResearchProject",
        "@id": absolute(base, project_path(project.id)),
        "url": absolute(base, project_path(project.id)),
        "name": _texts(project.titles),
        "funder": list(FUNDERS),
        "member": [{"@type": "Organization", "name": name} for name in institutions],
        "areaServed": list(project.countries),
        "subjectOf": [
            {"@type": "Dataset", "@id": absolute(base, dataset_path(r.dataset_id)), "name": r.title}
            for r in records
        ],
    }
    if project.acronym:
        found["alternateName"] = project.acronym
    if summaries:
        found["description"] = _texts(summaries)
    if project.start_date:
        found["foundingDate"] = project.start_date.isoformat()
    if project.end_date:
        found["dissolutionDate"] = project.end_date.isoformat()
    return found


# ---- Dublin Core ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Meta:
    name: str
    content: str
    lang: str | None = None


def dublin_core(base: str, record: VersionRecord) -> list[Meta]:
    """`<meta name="DC.*">` of a version (DCMI's HTML encoding, with `DCTERMS.*` for the
    terms beyond the fifteen elements)."""
    tags = [Meta("DC.title", t.value, None if t.lang == "und" else t.lang) for t in record.titles]
    tags += [Meta("DC.creator", p.name) for p in record.creators]
    tags += [Meta("DC.contributor", p.name) for p in record.contributors]
    tags += [Meta("DC.subject", k.value) for k in record.keywords]
    tags += [
        Meta("DC.description", t.value, None if t.lang == "und" else t.lang)
        for t in record.descriptions
    ]
    tags += [
        Meta("DC.publisher", record.publisher.name),
        Meta("DC.date", record.published_at.date().isoformat()),
        Meta("DC.type", "Dataset"),
        Meta("DC.identifier", cite_url(record, version_url(base, record))),
        Meta("DC.rights", record.licence_url or record.licence),
        Meta("DCTERMS.license", record.licence_url or record.licence),
    ]
    tags += [
        Meta("DC.format", m) for m in sorted({f.media_type for f in record.files if f.media_type})
    ]
    if record.coverage.has_box:
        cov = record.coverage
        box = (
            f"westlimit={cov.west}; southlimit={cov.south};"
            f" eastlimit={cov.east}; northlimit={cov.north}"
        )
        tags.append(Meta("DCTERMS.spatial", box))
    if time := temporal_coverage(record):
        tags.append(Meta("DCTERMS.temporal", time))
    tags.append(Meta("DC.language", record.titles[0].lang if record.titles else "und"))
    return tags


# ---- FAIR Signposting -------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    href: str
    rel: str
    type: str | None = None

    def header(self) -> str:
        kind = f'; type="{self.type}"' if self.type else ""
        return f'<{self.href}>; rel="{self.rel}"{kind}'


def signposts(
    base: str, record: VersionRecord, described_by: Sequence[tuple[str, str]]
) -> list[Link]:
    """A version's landing page's links: cite-as, describedby (one per `(query, media type)`
    of the metadata formats), item (files the public may read), license, author (ORCID),
    type."""
    url = version_url(base, record)
    links = [Link(cite_url(record, url), "cite-as")]
    links += [Link(f"{url}?format={query}", "describedby", media) for query, media in described_by]
    links += [
        Link(file_url(base, record, f.path), "item", f.media_type or "application/octet-stream")
        for f in record.files
        if f.public
    ]
    if record.licence_url:
        links.append(Link(record.licence_url, "license"))
    links += [Link(p.orcid_url, "author") for p in record.creators if p.orcid_url]
    links += [Link(f"{SCHEMA}Dataset", "type"), Link(f"{SCHEMA}AboutPage", "type")]
    return links
