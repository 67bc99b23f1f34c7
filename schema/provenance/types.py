"""Provenance: the GraphQL types of the PROV graph, lineage, exports, derivations and fixity."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from schema.connections import load_nodes
from schema.context import Info
from schema.errors import PublicError, UserError, error_codes
from server import models
from server.core.errors import DomainError
from server.datasets.queries import versions_by_id
from server.models.provenance import ProvKind as ProvKindEnum
from server.models.provenance import ProvNode as ProvNodeRow
from server.models.provenance import ProvRelation as ProvRelationEnum
from server.provenance import errors as codes
from server.provenance import export as exports
from server.provenance import lineage as prov_graph
from server.provenance.lineage import Direction

if TYPE_CHECKING:
    from schema.datasets.types import DatasetVersion


ProvenanceErrorCode = error_codes("ProvenanceErrorCode", codes.ProvenanceErrorCode)


@strawberry.type(description="An expected failure of a provenance mutation.")
class ProvenanceError(UserError):
    code: ProvenanceErrorCode  # type: ignore[valid-type]


ProvKind = strawberry.enum(ProvKindEnum, name="ProvKind", description="W3C PROV record kinds")
ProvRelation = strawberry.enum(
    ProvRelationEnum, name="ProvRelation", description="W3C PROV relations (subject -> object)"
)
LineageDirection = strawberry.enum(
    Direction,
    name="LineageDirection",
    description="UPSTREAM: what it came from; DOWNSTREAM: what came from it; BOTH",
)
ProvenanceFormat = strawberry.enum(
    exports.ExportFormat,
    name="ProvenanceFormat",
    description="PROV_JSON, PROV-O as PROV_JSONLD or PROV_TURTLE, PROV_N, or RO_CRATE"
    " (ro-crate-metadata.json)",
)

_OBJECT_TYPES = {
    "dataset_version": "DatasetVersion",
    "dataset": "Dataset",
    "raw_upload": "DatasetUpload",
    "researcher": "Researcher",
    "institution": "Institution",
}


@strawberry.type(
    description="A W3C PROV entity, activity or agent. A record you may not see is redacted:"
    " only its id and kind are shown."
)
class ProvNode(relay.Node):
    id: relay.NodeID[int]
    kind: ProvKind  # type: ignore[valid-type]
    redacted: bool
    depth: int | None = strawberry.field(description="Steps from the start of the walk")
    type: str | None = strawberry.field(
        description="raw_upload, artifact, dataset_version, dataset, upload, ingest, publish,"
        " fixity_check, phase_transition, researcher, institution, account, software"
    )
    label: str | None
    attributes: JSON | None = strawberry.field(
        description="sha256, size, object key, ORCID, ROR, outcome, steps, software version..."
    )
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    object_type: strawberry.Private[str | None]
    object_pk: strawberry.Private[int | None]

    @strawberry.field(description="Global id of the object this record describes, if any")
    def object_id(self) -> relay.GlobalID | None:
        if self.object_type is None or self.object_pk is None:
            return None
        return relay.GlobalID(self.object_type, str(self.object_pk))

    @classmethod
    def from_graph(cls, node: prov_graph.GraphNode) -> ProvNode:
        return cls(
            id=node.id,
            kind=node.kind,
            redacted=node.redacted,
            depth=node.depth,
            type=node.type,
            label=node.label,
            attributes=cast(JSON, node.attributes) if not node.redacted else None,
            started_at=node.started_at,
            ended_at=node.ended_at,
            object_type=None if node.redacted else _OBJECT_TYPES.get(node.record_type),
            object_pk=node.object_id,
        )

    @classmethod
    def from_row(cls, row: ProvNodeRow) -> ProvNode:
        node = prov_graph.GraphNode(
            id=row.id,
            kind=row.kind,
            depth=0,
            redacted=False,
            record_type=row.type,
            key=row.key,
            type=row.type,
            label=row.label,
            object_id=row.object_id,
            attributes=dict(row.attributes or {}),
            started_at=row.started_at,
            ended_at=row.ended_at,
        )
        found = cls.from_graph(node)
        found.depth = None
        return found

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[ProvNode | None]:
        loader = info.context.loaders.one_visible(prov_graph.nodes_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@strawberry.type(description="A typed PROV relation: subject -> object")
class ProvEdge:
    relation: ProvRelation  # type: ignore[valid-type]
    subject_id: relay.GlobalID
    object_id: relay.GlobalID
    attributes: JSON | None

    @classmethod
    def from_graph(cls, edge: prov_graph.GraphEdge) -> ProvEdge:
        attributes = {k: v for k, v in (edge.attributes or {}).items() if k != "agent"}
        return cls(
            relation=edge.relation,
            subject_id=relay.GlobalID("ProvNode", str(edge.subject_id)),
            object_id=relay.GlobalID("ProvNode", str(edge.object_id)),
            attributes=cast(JSON, attributes) if attributes else None,
        )


@strawberry.type(description="A provenance graph: its nodes (nearest first) and typed edges")
class ProvenanceGraph:
    root_id: relay.GlobalID
    nodes: list[ProvNode]
    edges: list[ProvEdge]
    truncated: bool = strawberry.field(
        description=f"True when more than {prov_graph.MAX_NODES} nodes were reached (the nearest"
        " are kept)"
    )

    @classmethod
    def from_graph(cls, found: prov_graph.Graph) -> ProvenanceGraph:
        return cls(
            root_id=relay.GlobalID("ProvNode", str(found.root_id)),
            nodes=[ProvNode.from_graph(n) for n in found.nodes],
            edges=[ProvEdge.from_graph(e) for e in found.edges],
            truncated=found.truncated,
        )


@strawberry.type(description="A dataset version up- or downstream of another")
class VersionLineage:
    direction: LineageDirection  # type: ignore[valid-type]
    depth: int
    redacted: bool = strawberry.field(description="True when you may not see that version")
    version_pk: strawberry.Private[int | None]

    @strawberry.field(description="The version (null when redacted)")
    async def version(
        self, info: Info
    ) -> Annotated[DatasetVersion, strawberry.lazy("schema.datasets.types")] | None:
        from schema.datasets.types import DatasetVersion

        if self.version_pk is None:
            return None
        row = await info.context.loaders.one_visible(versions_by_id).load(self.version_pk)
        return DatasetVersion.from_row(row) if row is not None else None


@strawberry.type(description="A version's provenance in one format, as text or a signed URL")
class ProvenanceExport:
    format: ProvenanceFormat  # type: ignore[valid-type]
    media_type: str
    filename: str
    text: str
    version_row: strawberry.Private[models.DatasetVersion]

    @strawberry.field(
        description="A signed download URL valid for an hour (presigned by S3, else the "
        "server's own)"
    )
    async def url(self, info: Info) -> str:
        export = exports.Export(self.format, self.media_type, self.filename, self.text)
        try:
            return await exports.export_url(
                info.context.store,
                info.context.signer,
                self.version_row,
                export,
                exports.URL_LIFETIME,
            )
        except DomainError as error:
            raise PublicError(error) from error


@strawberry.input
class RegisterDerivationInput:
    version_id: strawberry.ID = strawberry.field(description="The derived version")
    source_version_ids: list[strawberry.ID] = strawberry.field(
        description="Versions (of any dataset you may see) it was derived from"
    )
    note: str | None = None


@strawberry.type
class RegisterDerivationPayload:
    version: Annotated[DatasetVersion, strawberry.lazy("schema.datasets.types")] | None = None
    errors: list[ProvenanceError] = strawberry.field(default_factory=list)


@strawberry.type
class FixityCheckPayload:
    run_id: str | None = strawberry.field(
        default=None, description="The check's id (its PROV activity is fixity-<version>-<run>)"
    )
    errors: list[ProvenanceError] = strawberry.field(default_factory=list)
