"""Research formats end to end with production storage: the workbook and the NetCDF files
of test_upload_formats.py through presigned PUTs to a real S3 server (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_upload_formats import (
    netcdf_end_to_end,
    spy_on_spools,
    workbook_end_to_end,
)


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_a_workbook_through_s3_becomes_one_table_per_sheet(
    admin, factory, client, jobs, sessions, settings
):
    await workbook_end_to_end(admin, factory, client, jobs, sessions, settings)


async def test_netcdf4_is_read_by_range_and_netcdf3_from_a_spool(
    admin, factory, client, jobs, settings, tmp_path, monkeypatch
):
    """The same profiles as in embedded mode; the NetCDF-4 file (HDF5 inside) is described
    from its byte ranges in S3 while the worker hashes it, never copied to local disk; the
    NetCDF-3 file, read by libnetcdf from a path, is spooled."""
    spooled = spy_on_spools(monkeypatch)
    await netcdf_end_to_end(admin, factory, client, jobs, tmp_path)
    assert spooled == ["example_1.nc"]
