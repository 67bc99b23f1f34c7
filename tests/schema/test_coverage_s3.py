"""A GeoJSON uploaded straight to a real S3 server (SeaweedFS) reaches READY with its
coverage on the file, the version and the dataset, and the coverage filter finds it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_coverage import MEKONG, VERSION, box
from tests.schema.test_coverage_filter import FILTERED, MEKONG_BASIN
from tests.schema.test_uploads import COMPLETE, START, UPLOAD, draft_version


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_geojson_through_s3_gets_its_coverage(admin, factory, jobs):
    version = await draft_version(admin, factory)
    sha = hashlib.sha256(MEKONG).hexdigest()
    given = {"v": version, "name": "stations.geojson", "size": len(MEKONG), "sha": sha}
    started = (await admin(START, given))["startUpload"]
    assert started["errors"] == []
    async with httpx.AsyncClient(timeout=60) as s3:  # the first PUT may grow a volume
        response = await s3.put(started["instructions"]["putUrl"], content=MEKONG)
        assert response.status_code == 200
    upload = started["upload"]["id"]
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    assert (await admin(UPLOAD, {"u": upload}))["node"]["state"] == "READY"
    node = (await admin(VERSION, {"v": version}))["node"]
    mekong = [100.09, 10.03, 106.02, 20.27]
    assert box(node["files"]["nodes"][0]["coverage"]) == mekong
    assert box(node["coverage"]) == mekong and box(node["dataset"]["coverage"]) == mekong
    found = (await admin(FILTERED, {"f": {"intersects": MEKONG_BASIN}}))["datasets"]
    assert [n["title"] for n in found["nodes"]] == ["River levels"]
