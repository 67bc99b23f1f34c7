"""Issue 22 fault 3: the local store's disk full, mid-upload (the embedded upload endpoint
writing the object) and mid-processing (the worker writing its spool and artifacts). The
disk is a real 1 MiB tmpfs (tests/fixtures/small_disk.py): the writes meet ENOSPC.

Nothing accepted is lost, nothing half-written is kept: the PUT answers 507 STORAGE_FULL
with the store's tmp directory and the key empty, and succeeds once there is room; the
job retries, then goes back to QUEUED (never FAILED) and ends READY once there is room.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select
from strawberry.relay import from_base64

from server.core.config import Settings
from server.core.jobs import PROCESS_UPLOAD
from server.models import Artifact, DatasetFile, Upload
from server.models.enums import UploadState
from tests.fixtures.small_disk import SmallDisk
from tests.schema.test_uploads import COMPLETE, START, UPLOAD, draft_version, send
from workers import pipeline

write_artifacts_of_pipeline = pipeline._write_artifacts

pytest_plugins = ["tests.fixtures.small_disk"]


@pytest.fixture
def settings(small_disk: SmallDisk) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=small_disk.path / "objects",
        prov_copy_window_seconds=0.05,
    )


def csv_of(size: int) -> bytes:
    rows = b"".join(
        b"ST-%04d,2023-01-%02d,%d.%02d\n" % (i, i % 28 + 1, i % 9, i % 100) for i in range(20000)
    )
    body = b"station,date,level_m\n" + rows
    while len(body) < size:
        body += rows
    return body[: body.rindex(b"\n", 0, size) + 1]


def leftovers(objects: Path) -> list[str]:
    """Files of the store's internals a failed write could leave behind."""
    internal = objects / ".satreps"
    found = [*(internal / "tmp").glob("*"), *(internal / "work").glob("*")]
    return sorted(str(p.relative_to(objects)) for p in found)


async def start(admin, version: str, body: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(body).hexdigest()
    started = (
        await admin(START, {"v": version, "name": "levels.csv", "size": len(body), "sha": sha})
    )["startUpload"]
    assert started["errors"] == [], started
    assert started["instructions"]["putUrl"], "a single PUT, not parts"
    return started["upload"]["id"], started["instructions"]["putUrl"]


async def upload_row(sessions, gid: str) -> Upload:
    async with sessions() as session:
        upload = await session.get(Upload, int(from_base64(gid)[1]))
        assert upload is not None
        return upload


async def test_a_put_into_a_full_disk_is_refused_whole_and_resumes(
    admin, factory, client, jobs, sessions, settings, small_disk
):
    version = await draft_version(admin, factory)
    body = csv_of(2 * 1024 * 1024)  # twice the disk
    gid, url = await start(admin, version, body)

    refused = await send(client, url, body)
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"]["code"] == "STORAGE_FULL"
    assert int(refused.headers["Retry-After"]) > 0
    upload = await upload_row(sessions, gid)
    assert upload.state == UploadState.AWAITING_UPLOAD
    objects = Path(settings.object_dir)
    assert leftovers(objects) == []
    assert not (objects / "raw").joinpath(*upload.object_key.split("/")).exists()

    small_disk.resize("16m")  # the operator adds room; the same URL is sent again
    assert (await send(client, url, body)).status_code == 200
    assert (await admin(COMPLETE, {"u": gid}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": gid}))["node"]
    assert state["state"] == "READY", state
    assert state["sha256"] == hashlib.sha256(body).hexdigest() and state["size"] == len(body)


@pytest.mark.parametrize("when", ["before the spool", "before the artifacts"])
async def test_processing_into_a_full_disk_waits_and_ends_ready_once(
    admin, factory, client, jobs, sessions, settings, small_disk, monkeypatch, when
):
    """The disk fills before the job reads the upload (the spool under .satreps/work meets
    ENOSPC: already retried before this fault was tried) or once the file is read, when its
    artifacts are put into the store (a StorageError that used to end the upload FAILED)."""
    monkeypatch.setattr("workers.pipeline.RETRY_DELAYS", (0.01, 0.01))  # the back-off's clock
    version = await draft_version(admin, factory)
    body = csv_of(200 * 1024)
    gid, url = await start(admin, version, body)
    assert (await send(client, url, body)).status_code == 200
    assert (await admin(COMPLETE, {"u": gid}))["completeUpload"]["errors"] == []
    filler = small_disk.path / "filler"
    if when == "before the spool":
        small_disk.fill()
    else:  # the fault's moment: the real disk is filled just before the artifacts go in
        write_artifacts = pipeline._write_artifacts

        async def fill_then_write(*args, **kwargs):
            if not filler.exists():
                small_disk.fill()
            return await write_artifacts(*args, **kwargs)

        monkeypatch.setattr(pipeline, "_write_artifacts", fill_then_write)

    await jobs.drain()
    waiting = await upload_row(sessions, gid)
    assert waiting.state == UploadState.QUEUED, (waiting.error_code, waiting.error_message)
    assert waiting.lease_owner is None and waiting.attempts == 1
    objects = Path(settings.object_dir)
    assert leftovers(objects) == []
    async with sessions() as session:
        files = (
            await session.scalars(select(DatasetFile).where(DatasetFile.upload_id == waiting.id))
        ).all()
    assert files == []  # nothing half-visible

    assert filler.exists()
    filler.unlink()  # room again; the reconciler queues it again (here: at once)
    monkeypatch.setattr(pipeline, "_write_artifacts", write_artifacts_of_pipeline)
    await jobs.enqueue(PROCESS_UPLOAD, waiting.id, job_id=f"process_upload:{waiting.id}:1")
    await jobs.drain()
    done = await upload_row(sessions, gid)
    assert done.state == UploadState.READY, (done.error_code, done.error_message)
    assert done.attempts == 2 and done.sha256 == hashlib.sha256(body).hexdigest()
    async with sessions() as session:
        file = (
            await session.scalars(select(DatasetFile).where(DatasetFile.upload_id == done.id))
        ).one()
        keys = (
            await session.scalars(select(Artifact.key).where(Artifact.file_id == file.id))
        ).all()
    assert keys and all("/attempt-2/" in key for key in keys), keys
    assert leftovers(objects) == []
    stored = [p for p in (objects / settings.bucket_artifacts).rglob("*") if p.is_file()]
    assert stored and all("attempt-2" in p.parts for p in stored), stored  # no orphan


async def test_a_part_into_a_full_disk_is_refused_and_the_rest_resumes(
    admin, factory, client, jobs, settings, small_disk
):
    """A multipart upload: the parts received before the disk filled are kept (the client
    resumes with the rest); the part that met ENOSPC leaves no temporary file."""
    small_disk.resize("24m")  # room for one part of 16 MiB, not two
    version = await draft_version(admin, factory)
    size = 70 * 1024 * 1024  # above the single-PUT limit: five parts
    started = (await admin(START, {"v": version, "name": "big.bin", "size": size}))["startUpload"]
    assert started["errors"] == [], started
    part_size, parts = started["instructions"]["partSize"], started["instructions"]["parts"]
    block = bytes(range(256)) * (part_size // 256)

    def body(n: int) -> bytes:
        return block if n < 5 else block[: size - part_size * 4]

    assert (await send(client, parts[0]["url"], body(1))).status_code == 200
    refused = await send(client, parts[1]["url"], body(2))
    assert refused.status_code == 507, refused.text
    assert refused.json()["error"]["code"] == "STORAGE_FULL"
    uploads = Path(settings.object_dir) / ".satreps" / "uploads"
    left = sorted(p.name.split("-")[0] for p in uploads.rglob("*") if p.is_file())
    assert "tmp" not in left and left.count("part") == 1, left  # part 1 kept, nothing else

    small_disk.resize("160m")
    for part in parts[1:]:
        assert (await send(client, part["url"], body(part["partNumber"]))).status_code == 200
    gid = started["upload"]["id"]
    assert (await admin(COMPLETE, {"u": gid}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": gid}))["node"]
    assert state["state"] == "READY" and state["size"] == size, state
    assert leftovers(Path(settings.object_dir)) == []
