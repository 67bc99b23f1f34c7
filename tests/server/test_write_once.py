"""Raw objects are write-once in both modes: read-only files and no overwrite on the local
store, an object-lock default retention of the configured mode on S3 (SeaweedFS)."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from minio import Minio

from server.storage import (
    Buckets,
    LocalObjectStore,
    ObjectExists,
    ObjectLocked,
    S3ObjectStore,
)
from tests.fixtures.seaweed import SeaweedS3

BUCKETS = Buckets()


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalObjectStore]:
    store = LocalObjectStore(tmp_path / "objects", BUCKETS, chunk_size=64 * 1024)
    await store.ensure_buckets()
    yield store
    store.close()


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_raw_objects_are_read_only_on_disk(local: LocalObjectStore) -> None:
    await local.put(BUCKETS.raw, "datasets/1/v1/a.csv", b"a,b\n1,2\n")
    path = local.root / BUCKETS.raw / "datasets" / "1" / "v1" / "a.csv"
    assert mode_of(path) == 0o444
    assert mode_of(path.parent) == 0o755
    with pytest.raises(PermissionError) if os.geteuid() else contextlib.nullcontext():
        path.open("r+b")  # root may: fixity finds what it changes
    # artifacts stay ordinary files
    await local.put(BUCKETS.artifacts, "a/preview.json", b"{}")
    assert mode_of(local.root / BUCKETS.artifacts / "a" / "preview.json") & 0o200


async def test_overwrite_of_a_raw_object_is_refused(local: LocalObjectStore) -> None:
    key = "datasets/1/v1/b.bin"
    first = await local.put(BUCKETS.raw, key, b"evidence")
    with pytest.raises(ObjectExists, match="write-once"):
        await local.put(BUCKETS.raw, key, b"tampered")
    upload_id = await local.create_multipart(BUCKETS.raw, key)
    part = await local.write_part(BUCKETS.raw, key, upload_id, 1, b"other bytes")
    with pytest.raises(ObjectExists):
        await local.complete_multipart(BUCKETS.raw, key, upload_id, [part])
    await local.put(BUCKETS.artifacts, "x", b"something else")
    with pytest.raises(ObjectExists):
        await local.copy(BUCKETS.artifacts, "x", BUCKETS.raw, key)
    with pytest.raises(ObjectLocked):
        await local.delete(BUCKETS.raw, key)
    assert await local.get_bytes(BUCKETS.raw, key) == b"evidence"
    # nothing half-written is left behind
    assert not list((local.root / ".satreps" / "tmp").iterdir())
    stat_ = await local.stat(BUCKETS.raw, key)
    assert stat_ is not None and stat_.sha256 == first.sha256
    # the one removal allowed: an infected upload's original once its quarantine copy is in
    await local.discard_quarantined(BUCKETS.raw, key)
    assert not await local.exists(BUCKETS.raw, key)


async def test_same_bytes_again_is_accepted(local: LocalObjectStore) -> None:
    """A retried job puts the same object again: that is not an overwrite."""
    key = "datasets/1/v1/c.bin"
    first = await local.put(BUCKETS.raw, key, b"same bytes")
    path = local.root / BUCKETS.raw / "datasets" / "1" / "v1" / "c.bin"
    inode = path.stat().st_ino
    again = await local.put(BUCKETS.raw, key, b"same bytes")
    assert (again.sha256, again.size) == (first.sha256, first.size)
    assert path.stat().st_ino == inode  # the first file stays
    assert not list((local.root / ".satreps" / "tmp").iterdir())


async def test_artifacts_may_be_replaced(local: LocalObjectStore) -> None:
    await local.put(BUCKETS.artifacts, "p", b"one")
    await local.put(BUCKETS.artifacts, "p", b"two")
    assert await local.get_bytes(BUCKETS.artifacts, "p") == b"two"
    await local.delete(BUCKETS.artifacts, "p")


@pytest.mark.parametrize("mode", ["GOVERNANCE", "COMPLIANCE"])
async def test_s3_raw_bucket_retention_mode(seaweed: SeaweedS3, mode: str) -> None:
    tag = uuid.uuid4().hex[:8]
    buckets = Buckets(f"raw-{tag}", f"art-{tag}", f"prov-{tag}")
    store = S3ObjectStore(
        seaweed.endpoint,
        seaweed.access_key,
        seaweed.secret_key,
        secure=False,
        region=seaweed.region,
        buckets=buckets,
        raw_retention_days=1,
        raw_retention_mode=mode,
    )
    try:
        await store.ensure_buckets()
        client = Minio(
            seaweed.endpoint,
            access_key=seaweed.access_key,
            secret_key=seaweed.secret_key,
            secure=False,
            region=seaweed.region,
        )
        config = client.get_object_lock_config(buckets.raw)
        assert (config.mode, config.duration) == (mode, 1)
        info = await store.put(buckets.raw, "locked.bin", b"evidence")
        retention = client.get_object_retention(buckets.raw, "locked.bin", info.version_id)
        assert retention is not None and retention.mode == mode
        with pytest.raises(ObjectLocked):
            await store.delete(buckets.raw, "locked.bin", version_id=info.version_id)
    finally:
        store.close()


def test_unknown_retention_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="GOVERNANCE or COMPLIANCE"):
        S3ObjectStore("127.0.0.1:1", "k", "s", raw_retention_mode="LEGAL")


async def test_the_upload_endpoint_refuses_other_bytes_for_a_stored_key(
    admin: Any, factory: Any, client: Any
) -> None:
    """Embedded: a second PUT to an upload URL may repeat the bytes (a retry), not change
    them (409 OBJECT_EXISTS), and the first bytes stay."""
    from tests.schema.test_uploads import START, draft_version, send

    body = b"station,level\nBKK-01,1.5\n"
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "a.csv", "size": len(body)}))[
        "startUpload"
    ]
    url = started["instructions"]["putUrl"]
    assert (await send(client, url, body)).status_code == 200
    assert (await send(client, url, body)).status_code == 200  # a retry
    changed = await send(client, url, body.replace(b"1.5", b"9.9"))
    assert changed.status_code == 409
    assert changed.json()["error"]["code"] == "OBJECT_EXISTS"
