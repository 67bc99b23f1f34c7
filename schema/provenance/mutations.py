"""Provenance, written: registered derivations across datasets, fixity checks."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.payloads import payload
from schema.provenance.types import (
    FixityCheckPayload,
    RegisterDerivationInput,
    RegisterDerivationPayload,
)
from server import models
from server.access.auth import Principal
from server.core.jobs import FIXITY_CHECK
from server.datasets.service import require_contributor, visible_version
from server.provenance import lineage as prov_graph


@strawberry.type
class ProvenanceMutations:
    @strawberry.mutation(
        description="Record that a version was derived from versions of other datasets"
        " (wasDerivedFrom), e.g. an analysis output from field data of another project"
    )
    async def register_derivation(
        self, info: Info, input: RegisterDerivationInput
    ) -> RegisterDerivationPayload:
        from schema.datasets.types import DatasetVersion

        async def op(session: AsyncSession, principal: Principal) -> models.DatasetVersion:
            vid = decode_id(input.version_id, "DatasetVersion", "versionId")
            sources = [
                decode_id(g, "DatasetVersion", "sourceVersionIds") for g in input.source_version_ids
            ]
            await prov_graph.register_derivation(session, principal, vid, sources, input.note)
            version = await session.get(models.DatasetVersion, vid)
            assert version is not None
            return version

        def done(row: models.DatasetVersion) -> RegisterDerivationPayload:
            return RegisterDerivationPayload(version=DatasetVersion.from_row(row))

        return await payload(info, op, RegisterDerivationPayload, done)

    @strawberry.mutation(
        description="Re-hash a version's raw objects in the background and record the outcome"
        " as a PROV fixity-check activity"
    )
    async def check_fixity(self, info: Info, version_id: strawberry.ID) -> FixityCheckPayload:
        ctx = info.context
        run_id = uuid.uuid4().hex[:12]

        async def op(session: AsyncSession, principal: Principal) -> str:
            vid = decode_id(version_id, "DatasetVersion", "versionId")
            _, dataset = await visible_version(session, principal, vid)
            await require_contributor(session, principal, dataset)
            ctx.enqueue_after_commit(FIXITY_CHECK, vid, run_id, job_id=f"fixity:{vid}:{run_id}")
            return run_id

        return await payload(
            info, op, FixityCheckPayload, lambda run: FixityCheckPayload(run_id=run)
        )
