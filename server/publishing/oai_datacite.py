"""`oai_datacite`: a public record as DataCite's kernel-4 resource XML (metadata schema 4.5),
written by server/publishing/datacite.py, the same document the DOI registration sends.

A version whose DOI is not (yet) known is identified by its landing page's URL: schema 4.5
takes any identifierType, and a harvester should not be handed a DOI that does not resolve."""

from __future__ import annotations

import datetime as dt

from server.publishing.datacite import Funder, version_document, xml_of
from server.publishing.oai_dc import attr
from server.publishing.record import VersionRecord
from server.publishing.urls import absolute, version_path

DATACITE_NS = "http://datacite.org/schema/kernel-4"
DATACITE_SCHEMA = "http://schema.datacite.org/meta/kernel-4.5/metadata.xsd"
_UNKNOWN = "10.0/unknown"  # stands in for the DOI while writing, then replaced


def oai_datacite(record: VersionRecord, base: str, today: dt.date, doi: str | None) -> str:
    """The <resource> element (without an XML declaration) of the record."""
    del today  # the record already says whether its files are open today
    attributes = version_document(
        record,
        doi=doi or _UNKNOWN,
        base_url=base,
        concept_doi=record.concept_doi,
        funders=Funder.configured(),
    ).attributes
    xml = xml_of(attributes)
    if xml.startswith("<?xml"):
        xml = xml[xml.index("?>") + 2 :].lstrip()
    if doi is None:
        url = absolute(base, version_path(record.dataset_id, record.number))
        xml = xml.replace(
            f'<identifier identifierType="DOI">{_UNKNOWN}</identifier>',
            f'<identifier identifierType="URL">{attr(url)}</identifier>',
        )
    return xml
