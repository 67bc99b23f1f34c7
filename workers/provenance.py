"""Provenance jobs: the bucket copies of a version's PROV and RO-Crate, and fixity checks.

The PROV records themselves are written by the pipeline inside the transaction that commits
READY or FAILED; these jobs only read them. All are safe to run twice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.models import Upload
from server.provenance.export import write_copies
from server.provenance.fixity import run_fixity_check
from server.storage import ObjectStore
from workers.pipeline import process_upload

log = logging.getLogger(__name__)


async def write_provenance(ctx: dict[str, Any], version_id: int) -> str:
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    store: ObjectStore = ctx["store"]
    async with sessions() as session:
        keys = await write_copies(
            session, store, version_id, namespace=ctx["settings"].prov_namespace
        )
    return "written" if keys else "gone"


async def process_upload_with_provenance(ctx: dict[str, Any], upload_id: int) -> str:
    """process_upload, then (once READY is committed) the version's copies in the bucket.
    A copy that cannot be written is logged: the database keeps the record, and the next
    READY, publication or fixity check writes it again."""
    outcome = await process_upload(ctx, upload_id)
    if outcome == "ready":
        async with ctx["sessions"]() as session:
            version_id = await session.scalar(
                select(Upload.version_id).where(Upload.id == upload_id)
            )
        if version_id is not None:
            try:
                await write_provenance(ctx, version_id)
            except Exception:
                log.warning(
                    "provenance copies of version %s not written", version_id, exc_info=True
                )
    return outcome


async def fixity_check(ctx: dict[str, Any], version_id: int, run_id: str) -> str:
    report = await run_fixity_check(ctx["sessions"], ctx["store"], version_id, run_id)
    if report.outcome != "gone":
        log.info("fixity check %s of version %s: %s", run_id, version_id, report.outcome)
        await write_provenance(ctx, version_id)
    return report.outcome
