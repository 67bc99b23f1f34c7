"""Provenance: the PROV graph of anything (`provenance`), lineage fields of dataset versions,
exports (PROV-JSON, PROV-O, PROV-N, RO-Crate) as text or a signed URL, registered
derivations across datasets, fixity checks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from sqlalchemy import select
from strawberry import relay
from strawberry.scalars import JSON

from schema.compiled.mapping import compiled
from schema.connections import decode_id, load_nodes
from schema.context import Info
from schema.errors import PublicError, UserError, mutate, read
from server import models
from server.core.errors import DomainError
from server.core.jobs import FIXITY_CHECK
from server.models.provenance import ProvKind as ProvKindEnum
from server.models.provenance import ProvNode as ProvNodeRow
from server.models.provenance import ProvRelation as ProvRelationEnum
from server.provenance import export as exports
from server.provenance import lineage as prov_graph
from server.provenance.lineage import Direction

if TYPE_CHECKING:
    from schema.datasets import DatasetVersion

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

# the global id type names a provenance walk may start from, and the record key of each
_KEYS = {
    "DatasetVersion": "version",
    "Dataset": "dataset",
    "DatasetUpload": "upload",
    "Researcher": "researcher",
    "Institution": "institution",
}
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
    ) -> Annotated[DatasetVersion, strawberry.lazy("schema.datasets")] | None:
        from schema.datasets import DatasetVersion
        from server.datasets.queries import versions_by_id

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
        description="A signed download URL valid for an hour (object stores that presign)"
    )
    async def url(self, info: Info) -> str:
        export = exports.Export(self.format, self.media_type, self.filename, self.text)
        try:
            return await exports.export_url(
                info.context.store, self.version_row, export, exports.URL_LIFETIME
            )
        except DomainError as error:
            raise PublicError(error) from error


async def start_node(session: Any, principal: Any, gid: relay.GlobalID) -> ProvNodeRow:
    """The record a walk starts from, for any id that has provenance."""
    if gid.type_name == "ProvNode":
        return await prov_graph.visible_node(
            session, principal, node_id=decode_id(gid, "ProvNode", "id")
        )
    if gid.type_name == "DatasetFile":
        file_id = decode_id(gid, "DatasetFile", "id")
        upload_id = await session.scalar(
            select(models.DatasetFile.upload_id).where(models.DatasetFile.id == file_id)
        )
        return await prov_graph.visible_node(session, principal, key=f"upload-{upload_id}")
    prefix = _KEYS.get(gid.type_name)
    if prefix is None:
        raise DomainError.one(
            "INVALID_ID",
            f"id must be of a {', '.join([*_KEYS, 'DatasetFile', 'ProvNode'])}",
            "id",
        )
    pk = decode_id(gid, gid.type_name, "id")
    return await prov_graph.visible_node(session, principal, key=f"{prefix}-{pk}")


async def read_export(info: Info, version_id: int, fmt: exports.ExportFormat) -> ProvenanceExport:
    ctx = info.context

    async def op(session: Any) -> ProvenanceExport:
        found = await exports.export_version(
            session,
            ctx.principal,
            version_id,
            fmt,
            namespace=ctx.settings.prov_namespace,
            raw_bucket=ctx.store.buckets.raw,
        )
        version = await session.get(models.DatasetVersion, version_id)
        return ProvenanceExport(
            format=fmt,
            media_type=found.media_type,
            filename=found.filename,
            text=found.text,
            version_row=version,
        )

    return await read(info, op)


@compiled(partial=True, python=("provenance", "lineage", "provenance_export"))
@strawberry.type
class VersionProvenanceFields:
    """Fields this module adds to the DatasetVersion type (a mixin of it)."""

    @strawberry.field(description="This version's provenance graph")
    async def provenance(
        self,
        info: Info,
        direction: LineageDirection = Direction.UPSTREAM,  # type: ignore[valid-type]
        depth: int = prov_graph.DEFAULT_DEPTH,
    ) -> ProvenanceGraph:
        gid = relay.GlobalID("DatasetVersion", str(self.id))  # type: ignore[attr-defined]
        return await walk(info, gid, direction, depth)

    @strawberry.field(
        description="Dataset versions this one derives from (UPSTREAM) or that derive from it"
        " (DOWNSTREAM), across datasets and projects, nearest first"
    )
    async def lineage(
        self,
        info: Info,
        direction: LineageDirection = Direction.BOTH,  # type: ignore[valid-type]
        depth: int = prov_graph.DEFAULT_DEPTH,
    ) -> list[VersionLineage]:
        version_id = self.id  # type: ignore[attr-defined]
        principal = info.context.principal

        async def op(session: Any) -> list[VersionLineage]:
            found = await prov_graph.version_lineage(
                session, principal, version_id, direction, prov_graph.check_depth(depth)
            )
            return [
                VersionLineage(
                    direction=way,
                    depth=node.depth,
                    redacted=node.redacted,
                    version_pk=None if node.redacted else node.object_id,
                )
                for way, node in found
            ]

        return await read(info, op)

    @strawberry.field(description="This version's provenance as PROV or RO-Crate")
    async def provenance_export(
        self,
        info: Info,
        format: ProvenanceFormat,  # type: ignore[valid-type]
    ) -> ProvenanceExport:
        return await read_export(info, self.id, format)  # type: ignore[attr-defined]


async def walk(
    info: Info, gid: relay.GlobalID, direction: Direction, depth: int | None
) -> ProvenanceGraph:
    principal = info.context.principal

    async def op(session: Any) -> ProvenanceGraph:
        steps = prov_graph.check_depth(depth)
        start = await start_node(session, principal, gid)
        found = await prov_graph.graph(session, principal, [start.id], direction, steps)
        return ProvenanceGraph.from_graph(found)

    return await read(info, op)


@strawberry.type
class ProvenanceQueries:
    @strawberry.field(
        description="The W3C PROV graph around a dataset version, dataset, upload, file,"
        " researcher, institution or PROV record"
    )
    async def provenance(
        self,
        info: Info,
        id: relay.GlobalID,
        direction: LineageDirection = Direction.UPSTREAM,  # type: ignore[valid-type]
        depth: int = prov_graph.DEFAULT_DEPTH,
    ) -> ProvenanceGraph:
        return await walk(info, id, direction, depth)

    @strawberry.field(description="A dataset version's provenance as PROV or RO-Crate")
    async def provenance_export(
        self,
        info: Info,
        version_id: relay.GlobalID,
        format: ProvenanceFormat,  # type: ignore[valid-type]
    ) -> ProvenanceExport:
        try:
            vid = decode_id(version_id, "DatasetVersion", "versionId")
        except DomainError as error:
            raise PublicError(error) from error
        return await read_export(info, vid, format)


@strawberry.input
class RegisterDerivationInput:
    version_id: relay.GlobalID = strawberry.field(description="The derived version")
    source_version_ids: list[relay.GlobalID] = strawberry.field(
        description="Versions (of any dataset you may see) it was derived from"
    )
    note: str | None = None


@strawberry.type
class RegisterDerivationPayload:
    version: Annotated[DatasetVersion, strawberry.lazy("schema.datasets")] | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class FixityCheckPayload:
    run_id: str | None = strawberry.field(
        default=None, description="The check's id (its PROV activity is fixity-<version>-<run>)"
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ProvenanceMutations:
    @strawberry.mutation(
        description="Record that a version was derived from versions of other datasets"
        " (wasDerivedFrom), e.g. an analysis output from field data of another project"
    )
    async def register_derivation(
        self, info: Info, input: RegisterDerivationInput
    ) -> RegisterDerivationPayload:
        from schema.datasets import DatasetVersion

        async def op(session: Any, principal: Any) -> models.DatasetVersion:
            vid = decode_id(input.version_id, "DatasetVersion", "versionId")
            sources = [
                decode_id(g, "DatasetVersion", "sourceVersionIds") for g in input.source_version_ids
            ]
            await prov_graph.register_derivation(session, principal, vid, sources, input.note)
            version = await session.get(models.DatasetVersion, vid)
            assert version is not None
            return cast(models.DatasetVersion, version)

        result = await mutate(info, op)
        if isinstance(result, list):
            return RegisterDerivationPayload(errors=result)
        return RegisterDerivationPayload(version=DatasetVersion.from_row(result))

    @strawberry.mutation(
        description="Re-hash a version's raw objects in the background and record the outcome"
        " as a PROV fixity-check activity"
    )
    async def check_fixity(self, info: Info, version_id: relay.GlobalID) -> FixityCheckPayload:
        from server.datasets.service import require_contributor, visible_version

        ctx = info.context
        run_id = uuid.uuid4().hex[:12]

        async def op(session: Any, principal: Any) -> str:
            vid = decode_id(version_id, "DatasetVersion", "versionId")
            _, dataset = await visible_version(session, principal, vid)
            await require_contributor(session, principal, dataset)
            ctx.enqueue_after_commit(FIXITY_CHECK, vid, run_id, job_id=f"fixity:{vid}:{run_id}")
            return run_id

        result = await mutate(info, op)
        if isinstance(result, list):
            return FixityCheckPayload(errors=result)
        return FixityCheckPayload(run_id=result)
