"""Uploads straight to a real S3 server (SeaweedFS) with presigned URLs: the bytes never
pass through the API. Same flow as test_uploads.py, production storage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_uploads import COMPLETE, CSV, START, UPLOAD, VERSION, draft_version


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_presigned_single_put_to_ready(admin, factory, jobs):
    version = await draft_version(admin, factory)
    sha = hashlib.sha256(CSV).hexdigest()
    started = (
        await admin(START, {"v": version, "name": "levels.csv", "size": len(CSV), "sha": sha})
    )["startUpload"]
    assert started["errors"] == []
    url = started["instructions"]["putUrl"]
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Signature" in url
    async with httpx.AsyncClient(timeout=60) as s3:  # the first PUT may grow a volume
        assert (await s3.put(url, content=CSV)).status_code == 200
    upload = started["upload"]["id"]
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": upload}))["node"]
    assert state["state"] == "READY" and state["sha256"] == sha
    files = (await admin(VERSION, {"v": version}))["node"]["files"]["nodes"]
    assert [(f["name"], f["format"]) for f in files] == [("levels.csv", "csv")]


async def test_presigned_multipart_with_a_size_lie_is_rejected(admin, factory, jobs):
    version = await draft_version(admin, factory)
    size = 70 * 1024 * 1024
    started = (await admin(START, {"v": version, "name": "big.bin", "size": size}))["startUpload"]
    parts = started["instructions"]["parts"]
    part_size = started["instructions"]["partSize"]
    block = b"\x5a" * part_size
    async with httpx.AsyncClient(timeout=60) as s3:
        for part in parts:
            body = block if part["partNumber"] < len(parts) else b"short"  # last part too short
            assert (await s3.put(part["url"], content=body)).status_code == 200
    done = (await admin(COMPLETE, {"u": started["upload"]["id"]}))["completeUpload"]
    assert done["errors"] == []
    assert done["upload"]["state"] == "REJECTED" and done["upload"]["errorCode"] == "SIZE_MISMATCH"
