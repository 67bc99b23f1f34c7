"""Persistent identifiers of the public records: a DOI per published version and a concept
DOI per dataset (as InvenioRDM and Zenodo give), or, without DataCite credentials (the
embedded default), local identifiers with the same shape and no registry.

`mark` runs in the transaction that changes what the public sees (through
`server.publishing.service.refresh`): it writes the rows and marks them to push, so
publishing never waits for DataCite; the registration job (server.publishing.registration)
pushes them. Local identifiers need no push: their state follows the record at once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.config import Settings, get_settings
from server.core.db import utcnow
from server.models import DatasetVersion, PersistentId, PublicRecord
from server.publishing.urls import absolute, dataset_path, version_path

DOI, LOCAL = "doi", "local"
DRAFT, REGISTERED, FINDABLE, FAILED = "draft", "registered", "findable", "failed"
STATES = (DRAFT, REGISTERED, FINDABLE, FAILED)
DOI_RESOLVER = "https://doi.org/"


def version_value(settings: Settings, dataset_id: int, number: int) -> tuple[str, str]:
    """(scheme, value) of a version's identifier."""
    if settings.datacite_enabled:
        return DOI, f"{settings.datacite_prefix}/satreps.{dataset_id}.v{number}"
    return LOCAL, f"satreps:{dataset_id}.v{number}"


def concept_value(settings: Settings, dataset_id: int) -> tuple[str, str]:
    if settings.datacite_enabled:
        return DOI, f"{settings.datacite_prefix}/satreps.{dataset_id}"
    return LOCAL, f"satreps:{dataset_id}"


def pid_url(scheme: str, value: str, base: str, dataset_id: int, number: int | None) -> str:
    """Where the identifier resolves: doi.org for a DOI, the landing page for a local one."""
    if scheme == DOI:
        return DOI_RESOLVER + value
    path = dataset_path(dataset_id) if number is None else version_path(dataset_id, number)
    return absolute(base, path)


async def mark(
    session: AsyncSession, dataset_ids: Sequence[int], settings: Settings | None = None
) -> None:
    """Write the identifiers of these datasets' public records that have none, and mark every
    identifier of them to push (their metadata, or the links between versions, changed)."""
    if not dataset_ids:
        return
    settings = settings or get_settings()
    records = (
        await session.execute(
            select(
                PublicRecord.dataset_id,
                PublicRecord.version_id,
                DatasetVersion.number,
                PublicRecord.deleted,
            )
            .join(DatasetVersion, DatasetVersion.id == PublicRecord.version_id)
            .where(PublicRecord.dataset_id.in_(list(dataset_ids)))
            .order_by(PublicRecord.version_id)
        )
    ).all()
    rows = list(
        await session.scalars(
            select(PersistentId).where(PersistentId.dataset_id.in_(list(dataset_ids)))
        )
    )
    versions = {r.version_id: r for r in rows if r.version_id is not None}
    concepts = {r.dataset_id: r for r in rows if r.version_id is None}
    public: dict[int, bool] = {}
    for dataset_id, version_id, number, deleted in records:
        public[dataset_id] = public.get(dataset_id, False) or not deleted
        if version_id not in versions:
            scheme, value = version_value(settings, dataset_id, number)
            versions[version_id] = _new(session, dataset_id, version_id, scheme, value)
        _touch(versions[version_id], not deleted)
    for dataset_id, is_public in public.items():
        if dataset_id not in concepts:
            scheme, value = concept_value(settings, dataset_id)
            concepts[dataset_id] = _new(session, dataset_id, None, scheme, value)
        _touch(concepts[dataset_id], is_public)
    await session.flush()


def _new(
    session: AsyncSession, dataset_id: int, version_id: int | None, scheme: str, value: str
) -> PersistentId:
    row = PersistentId(
        dataset_id=dataset_id,
        version_id=version_id,
        scheme=scheme,
        value=value,
        state=DRAFT,
        remote=False,
        needs_push=False,
        revision=0,
        attempts=0,
    )
    session.add(row)
    return row


def _touch(row: PersistentId, public: bool) -> None:
    row.updated_at = utcnow()
    if row.scheme == LOCAL:
        row.state = FINDABLE if public else REGISTERED
        row.needs_push = False
        return
    row.needs_push = True
    row.revision = (row.revision or 0) + 1
    row.attempts = 0
    row.next_attempt_at = None


async def backfill(session: AsyncSession, settings: Settings | None = None) -> int:
    """Identifiers for the public records that have none (published before migration 0023,
    or written around `refresh`); the number of datasets given some."""
    missing = (
        await session.scalars(
            select(PublicRecord.dataset_id)
            .outerjoin(PersistentId, PersistentId.version_id == PublicRecord.version_id)
            .where(PersistentId.id.is_(None))
            .distinct()
        )
    ).all()
    await mark(session, sorted(missing), settings)
    return len(missing)
