"""Batch uploads straight to a real S3 server (SeaweedFS): startUploads hands out presigned
URLs (a multipart session for a large file), completeUploads queues what arrived."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_upload_batches import COMPLETE, FILES, body, entry
from tests.schema.test_uploads import draft_version

START = """mutation($v: ID!, $files: [UploadFileInput!]!) {
  startUploads(datasetVersionId: $v, files: $files) {
    entries { index upload { id path } instructions { putUrl partCount parts { url } }
              errors { field code } }
    errors { code } } }"""


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_a_batch_of_presigned_urls_to_ready(admin, factory, jobs):
    version = await draft_version(admin, factory)
    files = [
        entry("raw/a/log.csv", body(1)),
        entry("raw/../log.csv", body(2)),
        {"path": "raw/big.bin", "byteSize": 70 * 1024 * 1024},
        entry("raw/b/log.csv", body(3)),
    ]
    started = (await admin(START, {"v": version, "files": files}))["startUploads"]
    entries = started["entries"]
    assert [[e["code"] for e in x["errors"]] for x in entries] == [
        [],
        ["PATH_PARENT_SEGMENT"],
        [],
        [],
    ]
    small = [entries[0], entries[3]]
    for e in small:
        assert "X-Amz-Signature" in e["instructions"]["putUrl"]
    big = entries[2]["instructions"]
    assert big["putUrl"] is None and big["partCount"] == 5 and len(big["parts"]) == 5
    async with httpx.AsyncClient(timeout=60) as s3:  # the first PUT may grow a volume
        for e, data in zip(small, (body(1), body(3)), strict=True):
            assert (await s3.put(e["instructions"]["putUrl"], content=data)).status_code == 200
    ids = [e["upload"]["id"] for e in small] + [entries[2]["upload"]["id"]]
    done = (await admin(COMPLETE, {"ids": ids}))["completeUploads"]["entries"]
    assert [[e["code"] for e in x["errors"]] for x in done] == [[], [], ["PARTS_MISSING"]]
    await jobs.drain()
    listed = (await admin(FILES, {"v": version}))["node"]["files"]["nodes"]
    assert listed == [
        {"path": "raw/a/log.csv", "sha256": hashlib.sha256(body(1)).hexdigest()},
        {"path": "raw/b/log.csv", "sha256": hashlib.sha256(body(3)).hexdigest()},
    ]


async def test_a_batch_whose_commit_fails_leaves_no_multipart_open(
    admin, factory, settings, monkeypatch
):
    """The store opened a multipart session for the large file; the batch's transaction
    then fails: no row names the session, so it is aborted (not left to hold parts)."""
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.storage import StorageError, store_from_settings
    from server.storage.s3 import S3ObjectStore

    version = await draft_version(admin, factory)
    opened: list[tuple[str, str]] = []
    create = S3ObjectStore.create_multipart

    async def recorded(self, bucket: str, key: str, *args, **kwargs) -> str:
        upload_id = await create(self, bucket, key, *args, **kwargs)
        opened.append((key, upload_id))
        return upload_id

    monkeypatch.setattr(S3ObjectStore, "create_multipart", recorded)
    commit = AsyncSession.commit
    failing = {"left": 1}

    async def fails_once(self) -> None:
        if opened and failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("the database went away at commit (injected)")
        await commit(self)

    monkeypatch.setattr(AsyncSession, "commit", fails_once)
    files = [entry("raw/a/log.csv", body(1)), {"path": "raw/big.bin", "byteSize": 70 << 20}]
    response = await admin.post(START, {"v": version, "files": files})
    assert response.json()["errors"][0]["message"] != "the database went away at commit"
    assert len(opened) == 1 and not failing["left"]
    async with store_from_settings(settings) as store:
        with pytest.raises(StorageError):  # NoSuchUpload: aborted
            await store.list_parts(store.buckets.raw, *opened[0])
