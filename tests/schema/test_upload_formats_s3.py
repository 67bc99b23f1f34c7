"""Research formats end to end with production storage: the workbook and the NetCDF files
of test_upload_formats.py through presigned PUTs to a real S3 server (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.core.config import Settings
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_upload_formats import (
    COMPLETE,
    DATA,
    FILES,
    STATE,
    draft_version,
    netcdf_end_to_end,
    put_bytes,
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


async def test_a_cloud_optimised_geotiff_is_read_by_range_a_plain_one_spooled(
    admin, factory, client, jobs, settings, tmp_path, monkeypatch
):
    """world.byte.tif as it is (tiled, no overviews: its pixel sample may touch every block,
    so it is spooled) and rewritten by GDAL's COG driver (overviews first: described by
    range while the worker hashes it): both READY, the same coverage, each a quicklook."""
    import rasterio.shutil

    spooled = spy_on_spools(monkeypatch)
    cog = tmp_path / "world.cog.tif"
    rasterio.shutil.copy(DATA / "world.byte.tif", cog, driver="COG")
    version = await draft_version(admin, factory)
    for name, body in (
        ("world.tif", (DATA / "world.byte.tif").read_bytes()),
        ("world.cog.tif", cog.read_bytes()),
    ):
        upload = await put_bytes(admin, client, version, name, body)
        assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
        await jobs.drain()
        assert (await admin(STATE, {"u": upload}))["node"]["state"] == "READY"
    assert spooled == ["world.tif"]
    files = {f["name"]: f for f in (await admin(FILES, {"v": version}))["node"]["files"]["nodes"]}
    for name in ("world.tif", "world.cog.tif"):
        assert files[name]["profile"]["coverage"]["bbox"] == [-180.0, -75.0, 180.0, 75.0]
        assert sorted(a["kind"] for a in files[name]["artifacts"]) == ["profile", "quicklook"]
    assert files["world.cog.tif"]["profile"]["overviews"]
