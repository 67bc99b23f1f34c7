"""The DCAT-AP 3 catalogue of the public records, built with rdflib: one `dcat:Dataset` per
published version (its landing page's URL, or its DOI, as IRI), linked to the version
before it, with a `dcat:Distribution` per file the public may read today (an embargoed
version has none until the lift). Validated in the tests with pySHACL against the official
DCAT-AP 3.0.1 shapes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import DatasetVersion
from server.publishing.citations import cite_url, doi_of
from server.publishing.loading import load_records
from server.publishing.record import (
    FileEntry,
    Organisation,
    Person,
    Text,
    VersionRecord,
    publishable_select,
)
from server.publishing.schemaorg import CATALOG_NAME, file_url, version_url
from server.publishing.urls import absolute, catalog_path, project_path

SPDX = Namespace("http://spdx.org/rdf/terms#")
LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
ACCESS = Namespace("http://publications.europa.eu/resource/authority/access-right/")
IANA = "https://www.iana.org/assignments/media-types/"
# DCAT 3's terms that rdflib's (closed) DCAT namespace does not list yet
DCAT_VERSION = URIRef(f"{DCAT}version")
DCAT_PREVIOUS = URIRef(f"{DCAT}previousVersion")
BATCH = 500  # records read per batch


def _bind(graph: Graph) -> None:
    for prefix, namespace in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("skos", SKOS),
        ("spdx", SPDX),
        ("locn", LOCN),
        ("gsp", GSP),
    ):
        graph.bind(prefix, namespace)


def _literals(texts: Iterable[Text]) -> list[Literal]:
    return [Literal(t.value, lang=None if t.lang == "und" else t.lang) for t in texts]


def _agent(graph: Graph, base: str, organisation: Organisation) -> URIRef:
    node = URIRef(organisation.ror_url or absolute(base, f"/institutions/{organisation.id}"))
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, RDF.type, FOAF.Organization))
    graph.add((node, FOAF.name, Literal(organisation.name, lang="en")))
    return node


def _person(graph: Graph, person: Person) -> URIRef | BNode:
    node: URIRef | BNode = URIRef(person.orcid_url) if person.orcid_url else BNode()
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, RDF.type, FOAF.Person))
    graph.add((node, FOAF.name, Literal(person.name)))
    return node


def _date(value: dt.datetime) -> Literal:
    return Literal(value.date().isoformat(), datatype=XSD.date)


def _description(record: VersionRecord) -> list[Literal]:
    """DCAT-AP requires one; a record without any says what it is."""
    if record.descriptions:
        return _literals(record.descriptions)
    return [Literal(f"{record.title}: version {record.number} of a SATREPS dataset.", lang="en")]


def add_dataset(graph: Graph, base: str, record: VersionRecord) -> URIRef:
    landing = version_url(base, record)
    node = URIRef(cite_url(record, landing))
    graph.add((node, RDF.type, DCAT.Dataset))
    for title in _literals(record.titles):
        graph.add((node, DCTERMS.title, title))
    for description in _description(record):
        graph.add((node, DCTERMS.description, description))
    graph.add((node, DCTERMS.identifier, Literal(doi_of(record) or landing)))
    graph.add((node, DCTERMS.issued, _date(record.published_at)))
    graph.add((node, DCAT_VERSION, Literal(str(record.number))))
    graph.add((node, DCTERMS.publisher, _agent(graph, base, record.publisher)))
    for person in record.creators:
        graph.add((node, DCTERMS.creator, _person(graph, person)))
    for keyword in _literals(record.keywords):
        graph.add((node, DCAT.keyword, keyword))
    page = URIRef(landing)
    graph.add((node, DCAT.landingPage, page))
    graph.add((page, RDF.type, FOAF.Document))
    project = URIRef(absolute(base, project_path(record.project.id)))
    graph.add((node, DCTERMS.isReferencedBy, project))
    rights = ACCESS.PUBLIC if record.files_public else ACCESS.NON_PUBLIC
    graph.add((node, DCTERMS.accessRights, rights))
    graph.add((rights, RDF.type, DCTERMS.RightsStatement))
    for theme in record.themes:
        concept = URIRef(absolute(base, f"/themes/{theme.code}"))
        graph.add((node, DCAT.theme, concept))
        graph.add((concept, RDF.type, SKOS.Concept))
        for label in _literals(theme.names):
            graph.add((concept, SKOS.prefLabel, label))
    _coverage(graph, node, record)
    for entry in record.files:
        if entry.public:
            graph.add((node, DCAT.distribution, _distribution(graph, base, record, entry)))
    return node


def _coverage(graph: Graph, node: URIRef, record: VersionRecord) -> None:
    cov = record.coverage
    if cov.has_box:
        place = BNode()
        w, s, e, n = cov.west, cov.south, cov.east, cov.north
        wkt = f"POLYGON(({w} {s},{e} {s},{e} {n},{w} {n},{w} {s}))"
        graph.add((node, DCTERMS.spatial, place))
        graph.add((place, RDF.type, DCTERMS.Location))
        graph.add((place, DCAT.bbox, Literal(wkt, datatype=GSP.wktLiteral)))
    if cov.has_time:
        period = BNode()
        graph.add((node, DCTERMS.temporal, period))
        graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
        if cov.time_start:
            graph.add((period, DCAT.startDate, _date(cov.time_start)))
        if cov.time_end:
            graph.add((period, DCAT.endDate, _date(cov.time_end)))


def _distribution(graph: Graph, base: str, record: VersionRecord, entry: FileEntry) -> BNode:
    node = BNode()
    url = URIRef(file_url(base, record, entry.path))
    graph.add((node, RDF.type, DCAT.Distribution))
    graph.add((node, DCTERMS.title, Literal(entry.path)))
    graph.add((node, DCAT.accessURL, url))
    graph.add((node, DCAT.downloadURL, url))
    graph.add((node, DCAT.byteSize, Literal(entry.size, datatype=XSD.nonNegativeInteger)))
    if entry.media_type:
        media = URIRef(f"{IANA}{entry.media_type}")
        graph.add((node, DCAT.mediaType, media))
        graph.add((media, RDF.type, DCTERMS.MediaType))
    if record.licence_url:
        licence = URIRef(record.licence_url)
        graph.add((node, DCTERMS.license, licence))
        graph.add((licence, RDF.type, DCTERMS.LicenseDocument))
    checksum = BNode()
    graph.add((node, SPDX.checksum, checksum))
    graph.add((checksum, RDF.type, SPDX.Checksum))
    graph.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
    graph.add((SPDX.checksumAlgorithm_sha256, RDF.type, SPDX.ChecksumAlgorithm))
    graph.add((checksum, SPDX.checksumValue, Literal(entry.sha256, datatype=XSD.hexBinary)))
    return node


def catalog_graph(base: str, records: Sequence[VersionRecord]) -> Graph:
    graph = Graph()
    _bind(graph)
    catalog = URIRef(absolute(base, catalog_path()))
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal(CATALOG_NAME, lang="en")))
    graph.add(
        (
            catalog,
            DCTERMS.description,
            Literal("Published research data of SATREPS projects.", lang="en"),
        )
    )
    operator = URIRef(absolute(base, "/"))
    graph.add((catalog, DCTERMS.publisher, operator))
    graph.add((operator, RDF.type, FOAF.Agent))
    graph.add((operator, FOAF.name, Literal(CATALOG_NAME, lang="en")))
    graph.add((catalog, FOAF.homepage, operator))
    graph.add((operator, RDF.type, FOAF.Document))
    nodes = {r.version_id: add_dataset(graph, base, r) for r in records}
    for record in records:
        graph.add((catalog, DCAT.dataset, nodes[record.version_id]))
        previous = nodes.get(record.previous_version_id or 0)
        if previous is not None:
            graph.add((nodes[record.version_id], DCAT_PREVIOUS, previous))
    return graph


async def public_records(session: AsyncSession) -> list[VersionRecord]:
    """Every public record, in batches of `BATCH`, by version id."""
    ids = (await session.scalars(publishable_select().order_by(DatasetVersion.id))).all()
    records: list[VersionRecord] = []
    for start in range(0, len(ids), BATCH):
        found = await load_records(session, ids[start : start + BATCH])
        records += [found[i] for i in ids[start : start + BATCH] if i in found]
    return records


async def catalog(session: AsyncSession, base: str) -> Graph:
    return catalog_graph(base, await public_records(session))
