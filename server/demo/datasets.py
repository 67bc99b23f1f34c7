"""The demo's datasets: real, openly licensed files (`data/datasets/`, SOURCES.md there),
uploaded into demo projects and processed by the pipeline the workers run.

Each file goes the way a user's file goes: a dataset with its draft is created, the upload
declared with the file's size and sha256, the bytes stored in the raw bucket, the upload
completed (QUEUED, with its PROV record), the `process_upload` job run (profile, preview,
Parquet, the ingest activity), then the version is published with a note and the
provenance copies are written. This module only calls domain services and asks for the
jobs by name (`run_job`): the caller runs them (workers/demo.py, with the worker's own job
functions), so the layering stays as it is.

Idempotent: a dataset published by an earlier seeding (same project, title and file) is
left alone, so seeding again adds only what is missing; one cut off after its upload was
committed is taken up where it stopped (processed if it is not READY yet, then published).
A file that does not come out READY raises DemoDatasetFailed; the datasets before it stay.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access.auth import Principal, default_scopes, ensure_account, principal_of
from server.core.jobs import PROCESS_UPLOAD, WRITE_PROVENANCE
from server.datasets import service
from server.datasets.uploads import complete_upload, declare_upload
from server.demo.loader import INSTITUTION_BY_KEY, read
from server.models import Dataset, DatasetVersion, Institution, Project, Upload
from server.models.enums import AccessLevel, AccountRole, UploadState, VersionState
from server.storage import ObjectStore

CURATOR = "demo-curator"  # the account the demo's datasets are created and published by
PUBLISH_NOTE = "Demo data: a real, openly licensed extract (see the description for source)."
TRANSPORT = "stored in the raw bucket by satreps seed --demo"
RunJob = Callable[..., Awaitable[Any]]


class DemoDatasetFailed(RuntimeError):
    """A demo file did not come out of the pipeline READY (the message says why)."""


@dataclass(frozen=True)
class DatasetSpec:
    file: str
    size: int
    sha256: str
    project: str  # a demo project's acronym
    owner: str  # an institution key of data/institutions.json taking part in the project
    title: str
    description: str
    keywords: tuple[str, ...]
    licence: str
    source: dict[str, str]

    def data(self) -> bytes:
        """The shipped file, checked against the manifest."""
        body = files(__package__ or "server.demo").joinpath("data", "datasets", self.file)
        raw = body.read_bytes()
        if len(raw) != self.size or hashlib.sha256(raw).hexdigest() != self.sha256:
            raise DemoDatasetFailed(f"{self.file} does not match data/datasets/manifest.json")
        return raw


def _specs() -> tuple[DatasetSpec, ...]:
    manifest = read("datasets/manifest.json")
    return tuple(
        DatasetSpec(**{**entry, "keywords": tuple(entry["keywords"])})
        for entry in manifest["datasets"]
    )


DATASETS = _specs()


async def _curator(session: AsyncSession) -> Principal:
    account = await ensure_account(session, CURATOR, AccountRole.ADMIN)
    return principal_of(account, frozenset(default_scopes(AccountRole.ADMIN)))


async def _place(session: AsyncSession, spec: DatasetSpec) -> tuple[int, int] | None:
    """(project id, owner institution id), or None when the demo graph is not loaded."""
    owner = INSTITUTION_BY_KEY[spec.owner]
    project_id = await session.scalar(select(Project.id).where(Project.acronym == spec.project))
    institution_id = await session.scalar(
        select(Institution.id)
        .where(Institution.name_en == owner.name_en, Institution.country_code == owner.country)
        .order_by(Institution.id)
        .limit(1)
    )
    if project_id is None or institution_id is None:
        return None
    return project_id, institution_id


async def _earlier(
    session: AsyncSession, project_id: int, spec: DatasetSpec
) -> tuple[int, int, bool] | None:
    """(version, upload, published) of this dataset if an earlier seeding made it: whole,
    or cut off between its upload's commit and the publication (then it is taken up)."""
    row = (
        await session.execute(
            select(DatasetVersion.id, Upload.id, DatasetVersion.state)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .join(Upload, Upload.version_id == DatasetVersion.id)
            .where(
                Dataset.project_id == project_id,
                Dataset.title == spec.title,
                Upload.filename == spec.file,
            )
            .order_by(DatasetVersion.number.desc(), Upload.id.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return None
    return row[0], row[1], row[2] == VersionState.PUBLISHED


async def _chunks(raw: bytes) -> AsyncIterator[bytes]:
    yield raw


async def _upload(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    spec: DatasetSpec,
    raw: bytes,
    place: tuple[int, int],
) -> tuple[int, int]:
    """The dataset, its draft and the file's upload, stored and QUEUED: (version, upload)."""
    async with sessions() as session:
        principal = await _curator(session)
        dataset = await service.create_dataset(
            session,
            principal,
            *place,
            {
                "title": spec.title,
                "description": spec.description,
                "keywords": list(spec.keywords),
                "licence": spec.licence,
                "access_level": AccessLevel.PUBLIC,
            },
        )
        version_id = await session.scalar(
            select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset.id)
        )
        assert version_id is not None
        upload = await declare_upload(
            session,
            principal,
            version_id=version_id,
            filename=spec.file,
            byte_size=len(raw),
            max_bytes=len(raw),
            sha256=spec.sha256,
        )
        await store.put(store.buckets.raw, upload.object_key, _chunks(raw), size=len(raw))
        await complete_upload(
            session, principal, store, upload.id, client="satreps seed --demo", transport=TRANSPORT
        )
        await session.commit()
        return version_id, upload.id


async def _publish(sessions: async_sessionmaker[AsyncSession], version_id: int) -> None:
    async with sessions() as session:
        principal = await _curator(session)
        await service.publish_version(session, principal, version_id, PUBLISH_NOTE)
        await session.commit()


async def seed_datasets(
    sessions: async_sessionmaker[AsyncSession], store: ObjectStore, run_job: RunJob
) -> dict[str, int]:
    """Load the demo datasets that are missing; `run_job(name, *args)` runs a worker job.

    Returns how many datasets were added and how many were there already. Raises
    DemoDatasetFailed when the demo graph is missing or a file does not become READY."""
    added = present = 0
    for spec in DATASETS:
        raw = spec.data()
        async with sessions() as session:
            place = await _place(session, spec)
            if place is None:
                raise DemoDatasetFailed(f"load the demo graph first: {spec.project} is missing")
            earlier = await _earlier(session, place[0], spec)
        if earlier is not None and earlier[2]:
            present += 1
            continue
        if earlier is None:
            version_id, upload_id = await _upload(sessions, store, spec, raw, place)
        else:
            version_id, upload_id, _ = earlier
        await run_job(PROCESS_UPLOAD, upload_id)  # a READY upload's job returns "skipped"
        async with sessions() as session:
            upload = await session.get(Upload, upload_id)
            if upload is None or upload.state != UploadState.READY:
                why = (
                    f"{upload.state}, {upload.error_code}: {upload.error_message}"
                    if upload
                    else "gone"
                )
                raise DemoDatasetFailed(f"{spec.file} was not processed ({why}); try again")
        await _publish(sessions, version_id)
        await run_job(WRITE_PROVENANCE, version_id)
        added += 1
    if added:
        from server.analytics import refresh_stats

        async with sessions() as session:
            await refresh_stats(session)  # themeStats counts them at once, as seed_demo does
            await session.commit()
    return {"datasets": added, "datasets_present": present}
