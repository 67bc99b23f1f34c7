"""NetCDF-4, HDF5 and Cloud-Optimised GeoTIFFs described from their byte ranges in a real S3
server (SeaweedFS), as the worker does in production while it hashes the stream
(formats/remote.py): the same profile as from a local file, the object pinned by its ETag,
a store fault retried (never a FAILED upload), a corrupt file still UNREADABLE, and an
answer that counts only once the bytes' checksum does. The COG is rasterio's world.byte.tif
(tests/workers/data) rewritten by GDAL's COG driver, with its overviews."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import h5py
import pytest

from server.storage import ObjectStore, StoreUnavailable, store_from_settings
from tests.fixtures.gridded import write_mauna_loa
from tests.fixtures.seaweed import SeaweedS3, free_ports
from workers.processing import ErrorCode, Limits, ProcessingError, native, process_stream
from workers.processing.core import RemoteObject
from workers.processing.detect import detect_format
from workers.processing.formats import gridded
from workers.processing.formats.remote import RangedFile, RemoteChanged

H5PY_DATA = Path(h5py.__file__).parent / "tests" / "data_files"
DATA = Path(__file__).parent / "data"
OPTIONS = {"max_variables": 10_000}


@pytest.fixture
async def store(seaweed: SeaweedS3, tmp_path: Path) -> AsyncIterator[ObjectStore]:
    store = store_from_settings(seaweed.settings(tmp_path / "objects"))
    await store.ensure_buckets()
    yield store
    store.close()


async def put(store: ObjectStore, path: Path) -> tuple[str, str]:
    body = await asyncio.to_thread(path.read_bytes)
    key = f"remote-tests/{hashlib.sha256(body).hexdigest()}/{path.name}"
    info = await store.put(store.buckets.raw, key, body)
    sign = store.range_signer(store.buckets.raw, key, dt.timedelta(minutes=10))
    assert sign is not None
    return sign(), info.etag


async def test_profiles_from_ranges_equal_those_from_files(store, tmp_path):
    netcdf4 = write_mauna_loa(tmp_path / "co2.nc")
    hdf5 = H5PY_DATA / "compound-dtype-complex.h5"
    for path, kind in ((netcdf4, "netcdf"), (hdf5, "hdf5")):
        url, etag = await put(store, path)
        local = gridded.extract(str(path), str(tmp_path), {**OPTIONS, "kind": kind})
        remote = gridded.extract(
            url, str(tmp_path), {**OPTIONS, "kind": kind, "remote": True, "etag": etag}
        )
        assert remote == local, path.name
    assert local["profile"]["format"] == "HDF5"


async def test_only_the_blocks_asked_for_are_fetched(store, tmp_path):
    """A 40 MiB NetCDF-4 file whose header and coordinates sit in its first blocks: a few
    ranged GETs of 64 KiB, not the file."""
    import netCDF4
    import numpy as np

    path = tmp_path / "grid.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 40)
        ds.createDimension("lat", 512)
        ds.createDimension("lon", 512)
        for name, units in (("lat", "degrees_north"), ("lon", "degrees_east")):
            var = ds.createVariable(name, "f4", (name,))
            var.units = units
            var[:] = np.linspace(-80, 80, 512)
        tas = ds.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(1, 512, 512))
        tas.units = "K"
        tas[:] = np.random.default_rng(7).random((40, 512, 512), dtype="f4")
    url, etag = await put(store, path)
    handle = RangedFile(url, etag=etag, block_size=64 * 1024)
    profile = gridded._netcdf(gridded._open_netcdf_h5(handle), 10_000)["profile"]
    assert profile["coverage"]["bbox"] == [-80.0, -80.0, 80.0, 80.0]
    assert handle.size == path.stat().st_size > 40 * 512 * 512 * 4
    assert handle.requests < 20  # of the 640 blocks of the file


async def test_a_replaced_object_is_not_described(store, tmp_path):
    url, _ = await put(store, write_mauna_loa(tmp_path / "co2.nc"))
    with pytest.raises(RemoteChanged):
        gridded.extract(
            url, str(tmp_path), {**OPTIONS, "kind": "netcdf", "remote": True, "etag": "0" * 32}
        )


async def test_a_store_that_fails_mid_read_is_retried_not_failed(store, tmp_path):
    """Through the sandbox: a URL nothing answers gives StoreUnavailable (transient: the
    pipeline retries the upload), not UNREADABLE (which would fail it for good)."""
    (port,) = free_ports(1)
    dead = f"http://127.0.0.1:{port}/satreps-raw/gone.nc"
    fmt = detect_format(b"\x89HDF\r\n\x1a\n" + bytes(100), "gone.nc")
    with pytest.raises(StoreUnavailable):
        native.run(fmt, dead, tmp_path / "native", Limits())


async def test_a_corrupt_file_read_by_range_is_unreadable(store, tmp_path):
    body = write_mauna_loa(tmp_path / "co2.nc").read_bytes()
    cut = tmp_path / "cut.nc"
    cut.write_bytes(body[: len(body) // 2])
    url, etag = await put(store, cut)
    fmt = detect_format(body[:1024], "cut.nc")
    with pytest.raises(ProcessingError) as caught:
        native.run(fmt, url, tmp_path / "native", Limits(), etag=etag)
    assert caught.value.code == ErrorCode.UNREADABLE


async def chunks(body: bytes, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_the_answer_counts_only_after_the_checksum(store, tmp_path):
    path = write_mauna_loa(tmp_path / "co2.nc")
    body = path.read_bytes()
    url, etag = await put(store, path)
    remote = RemoteObject(lambda: url, etag)
    good = await process_stream(
        chunks(body),
        filename="co2.nc",
        declared_size=len(body),
        declared_sha256=hashlib.sha256(body).hexdigest(),
        workdir=tmp_path / "a",
        remote=remote,
    )
    assert good.profile is not None and good.profile["format"] == "NETCDF4"
    assert not (tmp_path / "a" / "raw.spool").exists()
    with pytest.raises(ProcessingError) as caught:
        await process_stream(
            chunks(body),
            filename="co2.nc",
            declared_size=len(body),
            declared_sha256="0" * 64,
            workdir=tmp_path / "b",
            remote=remote,
        )
    assert caught.value.code == ErrorCode.CHECKSUM_MISMATCH


async def test_the_url_is_signed_only_for_a_format_read_by_range(store, tmp_path):
    """Most files are not read by range: their URL is never signed (a fifth of a
    millisecond of the worker's time a file); a NetCDF-4 file's is, once."""
    signed: list[str] = []
    path = write_mauna_loa(tmp_path / "co2.nc")
    url, etag = await put(store, path)

    def sign() -> str:
        signed.append(url)
        return url

    for name, body in (("levels.csv", b"station,level\nBKK,1.52\n"), ("co2.nc", path.read_bytes())):
        result = await process_stream(
            chunks(body),
            filename=name,
            declared_size=len(body),
            declared_sha256=hashlib.sha256(body).hexdigest(),
            workdir=tmp_path / f"work-{name}",
            remote=RemoteObject(sign, etag),
        )
        assert result.profile is not None
        assert len(signed) == (name == "co2.nc")


def make_cog(tmp_path: Path) -> Path:
    import rasterio.shutil

    cog = tmp_path / "world.cog.tif"
    rasterio.shutil.copy(DATA / "world.byte.tif", cog, driver="COG", overview_resampling="average")
    return cog


def test_only_cloud_optimised_tiffs_are_read_by_range(tmp_path):
    cog = make_cog(tmp_path)
    for path, by_range in ((cog, True), (DATA / "world.byte.tif", False)):
        head = path.read_bytes()[:65536]
        assert native.reads_by_range(detect_format(head, path.name), head) is by_range


async def test_a_cog_read_by_range_is_described_as_from_its_file(store, tmp_path):
    """Both steps (header; statistics and quicklook from the overviews) through /vsicurl/:
    the same profile as from the file, and a quicklook."""
    cog = make_cog(tmp_path)
    url, etag = await put(store, cog)
    head = cog.read_bytes()[:1024]
    fmt = detect_format(head, cog.name)
    local = native.run(fmt, cog, tmp_path / "local", Limits())
    remote = native.run(fmt, url, tmp_path / "remote", Limits(), etag=etag)
    assert remote["profile"] == local["profile"]
    assert local["profile"]["overviews"] and local["profile"]["kind"] == "raster"
    assert [f["kind"] for f in remote["files"]] == ["quicklook"]
    quicklook = tmp_path / "remote" / remote["files"][0]["file"]
    assert quicklook.read_bytes() == (tmp_path / "local" / local["files"][0]["file"]).read_bytes()
    with pytest.raises(StoreUnavailable, match="If-Match"):  # from the sandbox: retried
        native.run(fmt, url, tmp_path / "changed", Limits(), etag="0" * 32)
