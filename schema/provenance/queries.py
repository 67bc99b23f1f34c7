"""Provenance, read: the PROV graph of anything (`provenance`), the lineage fields of dataset
versions, exports (PROV-JSON, PROV-O, PROV-N, RO-Crate) as text or a signed URL."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay

from schema.compiled.mapping import compiled
from schema.connections import decode_id, parse_global_id
from schema.context import Info
from schema.errors import PublicError, read
from schema.provenance.types import (
    LineageDirection,
    ProvenanceExport,
    ProvenanceFormat,
    ProvenanceGraph,
    VersionLineage,
)
from server import models
from server.access.auth import Principal
from server.core.errors import DomainError, ErrorCode
from server.models.provenance import ProvNode as ProvNodeRow
from server.provenance import export as exports
from server.provenance import lineage as prov_graph
from server.provenance.lineage import Direction

# the global id type names a provenance walk may start from, and the record key of each
_KEYS = {
    "DatasetVersion": "version",
    "Dataset": "dataset",
    "DatasetUpload": "upload",
    "Researcher": "researcher",
    "Institution": "institution",
}


async def start_node(
    session: AsyncSession, principal: Principal, value: relay.GlobalID | str
) -> ProvNodeRow:
    """The record a walk starts from, for any id that has provenance."""
    gid = parse_global_id(value, "id")
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
            ErrorCode.INVALID_ID,
            f"id must be of a {', '.join([*_KEYS, 'DatasetFile', 'ProvNode'])}",
            "id",
        )
    pk = decode_id(gid, gid.type_name, "id")
    return await prov_graph.visible_node(session, principal, key=f"{prefix}-{pk}")


async def read_export(info: Info, version_id: int, fmt: exports.ExportFormat) -> ProvenanceExport:
    ctx = info.context

    async def op(session: AsyncSession) -> ProvenanceExport:
        found = await exports.export_version(
            session,
            ctx.principal,
            version_id,
            fmt,
            namespace=ctx.settings.prov_namespace,
            raw_bucket=ctx.store.buckets.raw,
        )
        version = await session.get(models.DatasetVersion, version_id)
        assert version is not None  # export_version found it visible
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

        async def op(session: AsyncSession) -> list[VersionLineage]:
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
    info: Info, gid: relay.GlobalID | str, direction: Direction, depth: int | None
) -> ProvenanceGraph:
    principal = info.context.principal

    async def op(session: AsyncSession) -> ProvenanceGraph:
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
        id: strawberry.ID,
        direction: LineageDirection = Direction.UPSTREAM,  # type: ignore[valid-type]
        depth: int = prov_graph.DEFAULT_DEPTH,
    ) -> ProvenanceGraph | None:
        return await walk(info, id, direction, depth)

    @strawberry.field(description="A dataset version's provenance as PROV or RO-Crate")
    async def provenance_export(
        self,
        info: Info,
        version_id: strawberry.ID,
        format: ProvenanceFormat,  # type: ignore[valid-type]
    ) -> ProvenanceExport | None:
        try:
            vid = decode_id(version_id, "DatasetVersion", "versionId")
        except DomainError as error:
            raise PublicError(error) from error
        return await read_export(info, vid, format)
