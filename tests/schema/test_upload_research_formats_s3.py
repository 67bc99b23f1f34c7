"""Sequences, seismic records, photographs and PDFs end to end with production storage:
test_upload_research_formats.py's files through presigned PUTs to a real S3 server
(SeaweedFS), their thumbnail and text artifacts read back from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_upload_research_formats import research_files_end_to_end


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_research_files_through_s3(admin, factory, client, jobs, sessions, settings):
    await research_files_end_to_end(admin, factory, client, jobs, sessions, settings)
