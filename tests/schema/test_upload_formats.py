"""Research formats end to end (embedded mode: in-process jobs, local object store): native
readers run in their sandbox, and what they make of real sample files (tests/workers/data)."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import httpx
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from strawberry.relay import from_base64

from server.core.config import Settings
from server.models import Artifact, Upload
from server.storage import store_from_settings
from tests.fixtures.gridded import write_mauna_loa
from tests.schema.test_uploads import COMPLETE, CSV, START, draft_version, upload_file
from tests.workers.test_formats_vector import zipped_shapefile
from workers.processing import core, native

DATA = Path(__file__).parents[1] / "workers" / "data"
H5PY_DATA = Path(h5py.__file__).parent / "tests" / "data_files"
FAULTS = "tests.fixtures.extractors"
STATE = """query($u: ID!) { node(id: $u) { ... on DatasetUpload {
    state errorCode errorMessage detectedFormat warnings { code message } } } }"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=tmp_path / "objects",
        prov_copy_window_seconds=0.05,
        extractor_cpu_seconds=4,
        extractor_memory_mb=768,
        extractor_timeout_seconds=60,
    )


async def test_crashing_hanging_and_greedy_readers_fail_their_upload_not_the_worker(
    admin, factory, client, jobs, sessions, settings, monkeypatch
):
    monkeypatch.setitem(native.EXTRACTORS, "netcdf", f"{FAULTS}:segfault")
    monkeypatch.setitem(native.EXTRACTORS, "hdf5", f"{FAULTS}:spin")
    monkeypatch.setitem(native.EXTRACTORS, "xlsx", f"{FAULTS}:hog")
    version = await draft_version(admin, factory)
    files = {
        "model.nc": ((DATA / "example_1.nc").read_bytes(), "EXTRACTOR_CRASHED"),
        "strings.h5": ((H5PY_DATA / "vlen_string_dset.h5").read_bytes(), "EXTRACTOR_TIMEOUT"),
        "fruit.xlsx": ((DATA / "table-multiple.xlsx").read_bytes(), "TOO_COMPLEX"),
        "levels.csv": (CSV, None),  # queued last: the worker is alive and takes it
    }
    uploads = {}
    for name, (body, _) in files.items():
        uploads[name] = await upload_file(admin, client, version, name, body)
        assert (await admin(COMPLETE, {"u": uploads[name]}))["completeUpload"]["errors"] == []
    await jobs.drain()

    store = store_from_settings(settings)
    for name, (_, code) in files.items():
        state = (await admin(STATE, {"u": uploads[name]}))["node"]
        if code is None:
            assert state["state"] == "READY", state
            continue
        assert (state["state"], state["errorCode"]) == ("FAILED", code), (name, state)
        async with sessions() as session:
            row = await session.scalar(
                select(Upload).where(Upload.id == int(from_base64(uploads[name])[1]))
            )
        assert await store.exists(store.buckets.raw, row.object_key)  # the raw bytes stay


FILES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    files { nodes { id name format mediaType profile preview artifacts { kind } } } } } }"""
SEARCH = """query($q: String!) { search(query: $q) { edges { node {
    ... on Dataset { title } } } } }"""


async def put_bytes(admin, client, version: str, name: str, body: bytes) -> str:
    """startUpload and the PUT: to the server itself (embedded) or presigned to S3."""
    started = (await admin(START, {"v": version, "name": name, "size": len(body)}))["startUpload"]
    assert started["errors"] == [], started
    url = started["instructions"]["putUrl"]
    if "X-Amz-Signature" in url:
        async with httpx.AsyncClient() as s3:
            response = await s3.put(url, content=body)
    else:
        response = await client.put(url.removeprefix("http://testserver"), content=body)
    assert response.status_code == 200, response.text
    return started["upload"]["id"]


async def workbook_end_to_end(admin, factory, client, jobs, sessions, settings) -> None:
    """table-multiple.xlsx (python-calamine's sample): READY, one table per sheet, each
    sheet's Parquet in the artifacts bucket and readable."""
    version = await draft_version(admin, factory)
    upload = await put_bytes(
        admin, client, version, "fruit.xlsx", (DATA / "table-multiple.xlsx").read_bytes()
    )
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(STATE, {"u": upload}))["node"]
    assert (state["state"], state["detectedFormat"], state["warnings"]) == ("READY", "xlsx", [])
    file = (await admin(FILES, {"v": version}))["node"]["files"]["nodes"][0]
    assert [s["name"] for s in file["profile"]["sheets"]] == ["Sheet1", "Sheet2", "Sheet3"]
    assert file["preview"][0] == {"Item": 1, "Type": "Apple", "Quantity": 50}
    kinds = sorted(a["kind"] for a in file["artifacts"])
    assert kinds == [
        "parquet",
        "parquet.1",
        "parquet.2",
        "preview",
        "preview.1",
        "preview.2",
        "profile",
    ]
    async with sessions() as session:
        artifact = await session.scalar(
            select(Artifact).where(
                Artifact.file_id == int(from_base64(file["id"])[1]), Artifact.kind == "parquet.1"
            )
        )
    store = store_from_settings(settings)
    body = await store.get_bytes(artifact.bucket, artifact.key)
    prices = pq.read_table(io.BytesIO(body))
    assert prices.column_names == ["Item", "Price"]
    assert prices.column("Price").to_pylist() == [0.85, 0.75, 0.55, 0.45]


async def test_a_workbook_becomes_one_table_per_sheet(
    admin, factory, client, jobs, sessions, settings
):
    await workbook_end_to_end(admin, factory, client, jobs, sessions, settings)


async def test_netcdf_files_become_profiles_with_coverage(
    admin, factory, client, jobs, tmp_path, monkeypatch
):
    """A NetCDF-4 file (NOAA's Mauna Loa CO2 means, written by netCDF4) and xarray's NetCDF-3
    sample: READY, their coverage in the profile, a variable without units a warning. The
    embedded store's files are read in place: neither is copied to a spool."""
    spooled = spy_on_spools(monkeypatch)
    await netcdf_end_to_end(admin, factory, client, jobs, tmp_path)
    assert spooled == []


def spy_on_spools(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the uploads the pipeline spools to local disk from now on."""
    names: list[str] = []
    original = core.UploadProcessor._decide

    def decide(self: core.UploadProcessor) -> None:
        original(self)
        if self._spool is not None:
            names.append(self.filename)

    monkeypatch.setattr(core.UploadProcessor, "_decide", decide)
    return names


async def netcdf_end_to_end(admin, factory, client, jobs, tmp_path: Path) -> None:
    version = await draft_version(admin, factory)
    co2 = await put_bytes(
        admin, client, version, "co2.nc", write_mauna_loa(tmp_path / "co2.nc").read_bytes()
    )
    sample = await put_bytes(
        admin, client, version, "example_1.nc", (DATA / "example_1.nc").read_bytes()
    )
    for upload in (co2, sample):
        assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    assert (await admin(STATE, {"u": co2}))["node"]["warnings"] == []
    state = (await admin(STATE, {"u": sample}))["node"]
    assert (state["state"], state["detectedFormat"]) == ("READY", "netcdf")
    assert state["warnings"] == [{"code": "NO_UNITS", "message": "variable 'rh' has no units"}]
    files = {f["name"]: f for f in (await admin(FILES, {"v": version}))["node"]["files"]["nodes"]}
    coverage = files["co2.nc"]["profile"]["coverage"]
    assert coverage["bbox"] == pytest.approx([-155.576, 19.536, -155.576, 19.536], abs=1e-4)
    assert (coverage["time_start"], coverage["time_end"]) == (
        "2015-07-01T00:00:00Z",
        "2023-07-01T00:00:00Z",
    )
    assert files["example_1.nc"]["profile"]["coverage"]["bbox"] == [-160.0, 20.0, -15.0, 60.0]
    assert files["co2.nc"]["preview"] is None
    assert sorted(a["kind"] for a in files["co2.nc"]["artifacts"]) == ["profile"]
    for words in ("dioxide", "annual mean", "temp"):  # standard, long and variable names
        found = (await admin(SEARCH, {"q": words}))["search"]["edges"]
        assert [e["node"]["title"] for e in found] == ["River levels"], words


async def test_a_geotiff_gets_its_coverage_and_a_quicklook(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    upload = await put_bytes(
        admin, client, version, "landsat.tif", (DATA / "rgb-byte-tenth.tif").read_bytes()
    )
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(STATE, {"u": upload}))["node"]
    assert (state["state"], state["detectedFormat"], state["warnings"]) == ("READY", "tiff", [])
    file = (await admin(FILES, {"v": version}))["node"]["files"]["nodes"][0]
    assert file["profile"]["kind"] == "raster" and file["profile"]["count"] == 3
    assert file["profile"]["coverage"]["bbox"][0] == pytest.approx(-78.9586, abs=1e-3)
    assert sorted(a["kind"] for a in file["artifacts"]) == ["profile", "quicklook"]


async def test_a_zipped_shapefile_becomes_a_geoparquet_layer(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    upload = await put_bytes(admin, client, version, "countries.zip", zipped_shapefile())
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(STATE, {"u": upload}))["node"]
    assert (state["state"], state["detectedFormat"]) == ("READY", "shapefile")
    file = (await admin(FILES, {"v": version}))["node"]["files"]["nodes"][0]
    assert file["profile"]["layers"][0]["features"] == 177
    assert file["preview"][0]["name"] == "Fiji"
    assert sorted(a["kind"] for a in file["artifacts"]) == ["parquet", "preview", "profile"]
    for words in ("naturalearth_lowres", "continent"):  # a layer's name, an attribute's
        found = (await admin(SEARCH, {"q": words}))["search"]["edges"]
        assert [e["node"]["title"] for e in found] == ["River levels"], words
