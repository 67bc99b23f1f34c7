"""A version's ZIP and its files' URLs on a real S3 server (SeaweedFS): the archive is
streamed by the server from S3, each file's URL is presigned by S3 and answers a Range."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.core.config import Settings
from server.models.enums import AccountRole
from tests.fixtures.archives import FILES, check_zip, stored_version, version_download
from tests.fixtures.seaweed import SeaweedS3


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_a_version_as_a_zip_from_s3(
    gql: Any, sessions: Any, settings: Settings, factory: Any, make_token: Any
) -> None:
    made = await stored_version(sessions, settings, factory)
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    download = await version_download(admin, made.version_id)
    response = await gql.http.get(download["archiveUrl"])
    assert response.status_code == 200, response.text
    check_zip(response.content, FILES)

    async with httpx.AsyncClient(timeout=60) as s3:
        for file in download["files"]:
            assert settings.s3_endpoint and settings.s3_endpoint in file["url"]
            whole = await s3.get(file["url"])
            assert hashlib.sha256(whole.content).hexdigest() == file["sha256"]
            if file["size"] > 10:
                part = await s3.get(file["url"], headers={"Range": "bytes=3-9"})
                assert (part.status_code, part.content) == (206, whole.content[3:10])
