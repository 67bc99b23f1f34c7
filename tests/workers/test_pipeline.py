"""Leases and the reconciler: a killed worker's upload runs again; nothing waits forever."""

from __future__ import annotations

import datetime as dt

from server.core.db import utcnow
from server.models import Dataset, DatasetVersion, Upload
from server.models.enums import AccessLevel, UploadState, VersionState
from workers.pipeline import claim, waiting_uploads


async def make_upload(sessions, factory, state: UploadState, **extra) -> int:
    project = await factory.project()
    inst = await factory.institution("JP")
    async with sessions() as session:
        dataset = Dataset(
            project_id=project.id,
            owner_institution_id=inst.id,
            title="t",
            licence="MIT",
            access_level=AccessLevel.PUBLIC,
            keywords=[],
        )
        session.add(dataset)
        await session.flush()
        version = DatasetVersion(dataset_id=dataset.id, number=1, state=VersionState.DRAFT)
        session.add(version)
        await session.flush()
        upload = Upload(
            version_id=version.id,
            filename="f.csv",
            object_key=f"k/{version.id}/f.csv",
            declared_size=3,
            state=state,
            attempts=0,
            **extra,
        )
        session.add(upload)
        await session.commit()
        return upload.id


async def test_one_worker_at_a_time_and_an_expired_lease_hands_over(sessions, factory):
    upload_id = await make_upload(sessions, factory, UploadState.QUEUED, queued_at=utcnow())
    assert await claim(sessions, upload_id, "worker-a")
    assert not await claim(sessions, upload_id, "worker-b")  # a live lease
    async with sessions() as session:
        upload = await session.get(Upload, upload_id)
        assert (upload.state, upload.lease_owner, upload.attempts) == (
            UploadState.PROCESSING,
            "worker-a",
            1,
        )
        upload.lease_expires_at = utcnow() - dt.timedelta(seconds=1)  # worker-a was killed
        await session.commit()
    assert await claim(sessions, upload_id, "worker-b")
    async with sessions() as session:
        upload = await session.get(Upload, upload_id)
        assert (upload.lease_owner, upload.attempts) == ("worker-b", 2)


async def test_finished_uploads_are_never_claimed(sessions, factory):
    for state in (UploadState.READY, UploadState.FAILED, UploadState.AWAITING_UPLOAD):
        upload_id = await make_upload(sessions, factory, state)
        assert not await claim(sessions, upload_id, "worker")


async def test_reconciler_finds_stale_queued_and_expired_leases(sessions, factory):
    old = utcnow() - dt.timedelta(minutes=5)
    stale = await make_upload(sessions, factory, UploadState.QUEUED, queued_at=old)
    fresh = await make_upload(sessions, factory, UploadState.QUEUED, queued_at=utcnow())
    orphan = await make_upload(
        sessions, factory, UploadState.PROCESSING, lease_expires_at=old, lease_owner="dead"
    )
    alive = await make_upload(
        sessions,
        factory,
        UploadState.PROCESSING,
        lease_expires_at=utcnow() + dt.timedelta(seconds=30),
        lease_owner="alive",
    )
    found = {upload_id for upload_id, _ in await waiting_uploads(sessions)}
    assert {stale, orphan} <= found
    assert not {fresh, alive} & found
