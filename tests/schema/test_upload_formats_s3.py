"""A research format end to end with production storage: the workbook of
test_upload_formats.py through presigned PUTs to a real S3 server (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_upload_formats import workbook_end_to_end


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_a_workbook_through_s3_becomes_one_table_per_sheet(
    admin, factory, client, jobs, sessions, settings
):
    await workbook_end_to_end(admin, factory, client, jobs, sessions, settings)
