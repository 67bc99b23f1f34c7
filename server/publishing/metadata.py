"""DataCite metadata of public records with their identifiers, for every reader: the
registration job (the documents it pushes), and the formats that serve DataCite metadata
(content negotiation on the landing pages, OAI-PMH's `oai_datacite`) through
`datacite_documents`. A version with a DOI is described by it and linked to its concept
DOI and its siblings' DOIs; one with a local identifier, or none yet, has no DOI: its
landing page URL is the XML's identifier (type URL) and its local identifier an alternate
one (DataCite itself only takes DOIs; the documents still meet its XSD)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.config import Settings
from server.models import Dataset, DatasetVersion, PersistentId, Project
from server.publishing.datacite import Document, Funder, concept_document, version_document
from server.publishing.loading import load_records
from server.publishing.pids import DOI
from server.publishing.record import VersionRecord, publishable

if TYPE_CHECKING:
    from server.publishing.registration import Claim

Identifiers = dict[tuple[int, int | None], tuple[str, str]]  # (dataset, version) -> (scheme, value)


async def datacite_documents(
    session: AsyncSession,
    settings: Settings,
    records: Mapping[int, VersionRecord],
    *,
    base_url: str | None = None,
) -> dict[int, Document]:
    """{version id: DataCite metadata} of these public records (`load_records`), with their
    identifiers as the database holds them; the landing pages under `base_url` (default:
    the public_base_url setting; a request's own base where that is unset)."""
    base = base_url or settings.public_base_url or ""
    funders = Funder.configured(settings)
    found = await identifiers(session, sorted({r.dataset_id for r in records.values()}))
    dois = _dois(found)
    out: dict[int, Document] = {}
    for version_id, record in records.items():
        scheme, value = found.get((record.dataset_id, version_id), ("", ""))
        out[version_id] = version_document(
            record,
            doi=value if scheme == DOI else None,
            base_url=base,
            concept_doi=dois.get((record.dataset_id, None)),
            dois={v: d for (_, v), d in dois.items() if v is not None},
            funders=funders,
            local_id=value if scheme and scheme != DOI else None,
        )
    return out


async def documents_of(
    session: AsyncSession, settings: Settings, claims: Sequence[Claim]
) -> dict[int, Document]:
    """{claim id: metadata} of the claims whose record is public; a withdrawn one has none."""
    base = settings.public_base_url or ""
    funders = Funder.configured(settings)
    dataset_ids = sorted({c.dataset_id for c in claims})
    latest = await _latest_public(session, dataset_ids)
    wanted = {c.version_id for c in claims if c.version_id is not None} | set(latest.values())
    records = await load_records(session, sorted(wanted))
    dois = _dois(await identifiers(session, dataset_ids))
    out: dict[int, Document] = {}
    for item in claims:
        if item.version_id is None:
            record = records.get(latest.get(item.dataset_id, 0))
            if record is not None:
                out[item.id] = concept_document(
                    record,
                    doi=item.doi,
                    base_url=base,
                    version_dois=_version_dois(record, dois),
                    funders=funders,
                )
            continue
        record = records.get(item.version_id)
        if record is not None:
            out[item.id] = version_document(
                record,
                doi=item.doi,
                base_url=base,
                concept_doi=dois.get((record.dataset_id, None)),
                dois={v: d for (_, v), d in dois.items() if v is not None},
                funders=funders,
            )
    return out


def _version_dois(record: VersionRecord, dois: dict[tuple[int, int | None], str]) -> list[str]:
    """The DOIs of the dataset's versions, oldest first."""
    mine = [(v, d) for (ds, v), d in dois.items() if ds == record.dataset_id and v is not None]
    return [d for _, d in sorted(mine)]


async def _latest_public(session: AsyncSession, dataset_ids: Sequence[int]) -> dict[int, int]:
    """{dataset id: its latest public version's id}."""
    rows = await session.execute(
        select(DatasetVersion.dataset_id, func.max(DatasetVersion.id))
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .join(Project, Project.id == Dataset.project_id)
        .where(DatasetVersion.dataset_id.in_(list(dataset_ids)), publishable())
        .group_by(DatasetVersion.dataset_id)
    )
    return {dataset_id: version_id for dataset_id, version_id in rows}


async def identifiers(session: AsyncSession, dataset_ids: Sequence[int]) -> Identifiers:
    """{(dataset id, version id or None for the concept): (scheme, value)}."""
    rows = await session.execute(
        select(
            PersistentId.dataset_id,
            PersistentId.version_id,
            PersistentId.scheme,
            PersistentId.value,
        ).where(PersistentId.dataset_id.in_(list(dataset_ids)))
    )
    return {(d, v): (scheme, value) for d, v, scheme, value in rows}


def _dois(found: Identifiers) -> dict[tuple[int, int | None], str]:
    return {key: value for key, (scheme, value) in found.items() if scheme == DOI}
