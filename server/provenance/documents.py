"""A version's provenance record as data (Bundle) and as a W3C PROV document: built with the
`prov` package, serialised as PROV-JSON, PROV-O (JSON-LD, Turtle) or PROV-N and read back;
the export formats' media types and file names. server/provenance/export.py gathers the
record from the database and writes the exports and their copies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prov.constants import PROV, PROV_LABEL, PROV_TYPE
from prov.model import ProvDocument

from server.models import Dataset, DatasetFile, DatasetVersion
from server.models.provenance import ProvKind as K
from server.models.provenance import ProvRelation as R
from server.provenance import ExportFormat
from server.provenance.lineage import GraphEdge, GraphNode

ORCID = "https://orcid.org/"
ROR = "https://ror.org/"
PROV_FILE = "prov.json"
CRATE_FILE = "ro-crate-metadata.json"


@dataclass(frozen=True)
class FormatInfo:
    media_type: str
    filename: str
    prov_format: str | None = None
    prov_args: tuple[tuple[str, str], ...] = ()


FORMATS: dict[ExportFormat, FormatInfo] = {
    ExportFormat.PROV_JSON: FormatInfo("application/json", "prov.json", "json"),
    ExportFormat.PROV_JSONLD: FormatInfo(
        "application/ld+json", "prov.jsonld", "rdf", (("rdf_format", "json-ld"),)
    ),
    ExportFormat.PROV_TURTLE: FormatInfo(
        "text/turtle", "prov.ttl", "rdf", (("rdf_format", "turtle"),)
    ),
    ExportFormat.PROV_N: FormatInfo("text/provenance-notation", "prov.provn", "provn"),
    ExportFormat.RO_CRATE: FormatInfo("application/ld+json", CRATE_FILE),
}


@dataclass
class Bundle:
    version: DatasetVersion
    dataset: Dataset
    files: list[DatasetFile]
    root_id: int | None
    nodes: list[GraphNode]
    edges: list[GraphEdge]


# ---- PROV --------------------------------------------------------------------------------


def prov_document(found: Bundle, namespace: str) -> ProvDocument:
    doc = ProvDocument()
    doc.add_namespace("satreps", namespace)
    doc.add_namespace("orcid", ORCID)
    doc.add_namespace("ror", ROR)
    names = {n.id: _qualified(n) for n in found.nodes}
    for node in found.nodes:
        _add_record(doc, names[node.id], node)
    for edge in found.edges:
        _add_relation(doc, names[edge.subject_id], names[edge.object_id], edge)
    return doc


def _qualified(node: GraphNode) -> str:
    if node.redacted:
        return f"satreps:redacted-{node.id}"
    if node.record_type == "researcher" and node.attributes.get("orcid"):
        return f"orcid:{node.attributes['orcid']}"
    if node.record_type == "institution" and node.attributes.get("ror"):
        return f"ror:{node.attributes['ror']}"
    return f"satreps:{node.key}"


_AGENT_TYPES = {
    "researcher": PROV["Person"],
    "account": PROV["Person"],
    "institution": PROV["Organization"],
    "software": PROV["SoftwareAgent"],
}


def _add_record(doc: ProvDocument, name: str, node: GraphNode) -> None:
    attributes: list[tuple[Any, Any]] = []
    if not node.redacted:
        attributes.append((PROV_TYPE, doc.valid_qualified_name(f"satreps:{node.record_type}")))
        if node.kind == K.AGENT:
            attributes.append((PROV_TYPE, _AGENT_TYPES.get(node.record_type, PROV["Agent"])))
        if node.label:
            attributes.append((PROV_LABEL, node.label))
        attributes += [(f"satreps:{k}", _literal(v)) for k, v in sorted(node.attributes.items())]
    if node.kind == K.ENTITY:
        doc.entity(name, attributes)
    elif node.kind == K.ACTIVITY:
        doc.activity(name, node.started_at, node.ended_at, attributes)
    else:
        doc.agent(name, attributes)


def _literal(value: Any) -> str | int:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return value
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _add_relation(doc: ProvDocument, subject: str, obj: str, edge: GraphEdge) -> None:
    extra: list[tuple[Any, Any]] = []
    for key, value in sorted((edge.attributes or {}).items()):
        if key == "type" and value == "prov:Revision":
            extra.append((PROV_TYPE, PROV["Revision"]))
        elif key not in ("agent", "registeredBy"):
            extra.append((f"satreps:{key}", _literal(value)))
    ident = f"satreps:edge-{edge.id}" if extra else None
    attrs = extra or None
    match edge.relation:
        case R.USED:
            doc.used(subject, obj, identifier=ident, other_attributes=attrs)
        case R.WAS_GENERATED_BY:
            doc.wasGeneratedBy(subject, obj, identifier=ident, other_attributes=attrs)
        case R.WAS_DERIVED_FROM:
            doc.wasDerivedFrom(subject, obj, identifier=ident, other_attributes=attrs)
        case R.WAS_ATTRIBUTED_TO:
            doc.wasAttributedTo(subject, obj, identifier=ident, other_attributes=attrs)
        case R.WAS_ASSOCIATED_WITH:
            doc.wasAssociatedWith(subject, obj, identifier=ident, other_attributes=attrs)
        case R.ACTED_ON_BEHALF_OF:
            doc.actedOnBehalfOf(subject, obj, identifier=ident, other_attributes=attrs)
        case R.WAS_INFORMED_BY:
            doc.wasInformedBy(subject, obj, identifier=ident, other_attributes=attrs)
        case R.SPECIALIZATION_OF:
            doc.specializationOf(subject, obj)


def serialize_prov(doc: ProvDocument, fmt: ExportFormat) -> str:
    info = FORMATS[fmt]
    assert info.prov_format is not None
    args: dict[str, Any] = dict(info.prov_args)
    if fmt == ExportFormat.PROV_JSONLD:  # compact, with the document's prefixes
        prefixes = {ns.prefix: ns.uri for ns in doc.get_registered_namespaces()}
        prefixes |= {"prov": str(PROV.uri), "xsd": "http://www.w3.org/2001/XMLSchema#"}
        args |= {"context": prefixes, "auto_compact": True}
    text = doc.serialize(format=info.prov_format, **args)
    assert text is not None
    return text


def parse_prov(text: str, fmt: ExportFormat) -> ProvDocument:
    """Read an export back with the `prov` package (the inverse of serialize_prov)."""
    info = FORMATS[fmt]
    assert info.prov_format is not None
    return ProvDocument.deserialize(content=text, format=info.prov_format, **dict(info.prov_args))
