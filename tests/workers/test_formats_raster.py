"""Rasters (workers/processing/formats/raster.py, in the sandbox): GeoTIFF header, bands,
statistics, WGS 84 bounds and a PNG quicklook. Real files: rasterio's own test rasters
(tests/workers/data/README.md: Landsat 7 derived, CC0)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
import rasterio
from rasterio.errors import NotGeoreferencedWarning

from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode

DATA = Path(__file__).parent / "data"
GREY_ALPHA, RGBA = 4, 6  # PNG colour types


def png_header(path: Path) -> tuple[int, int, int]:
    """(width, height, colour type) from the PNG's IHDR chunk."""
    head = path.read_bytes()[:26]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height, head[25]


def test_a_utm_geotiff_bounds_in_wgs84_bands_and_quicklook(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "rgb-byte-tenth.tif").read_bytes(), "landsat.tif")
    assert result.format.kind == "tiff"
    profile = result.profile
    assert profile is not None and profile["kind"] == "raster"
    assert (profile["width"], profile["height"], profile["count"]) == (79, 71, 3)
    assert profile["crs"]["epsg"] is None and "UTM Zone 18" in profile["crs"]["wkt"]
    assert profile["bounds"] == [101985.0, 2611485.0, 339315.0, 2826915.0]
    west, south, east, north = profile["coverage"]["bbox"]
    # UTM zone 18's central meridian is 75 W, at easting 500 000: this image lies west of it
    assert -80.0 < west < east < -75.0 and 23.0 < south < north < 26.0
    band = profile["bands"][0]
    assert (band["dtype"], band["nodata"]) == ("uint8", 0.0)
    assert band["statistics"]["sampled"] is False and band["statistics"]["min"] >= 1.0
    with rasterio.open(DATA / "rgb-byte-tenth.tif") as src:
        assert band["statistics"]["valid_pixels"] == int((src.read(1) != 0).sum())
    kinds = {kind: data for kind, _, data in result.extra_artifacts}
    assert list(kinds) == ["quicklook"]
    assert png_header(kinds["quicklook"]) == (79, 71, RGBA)  # type: ignore[arg-type]


def test_statistics_of_a_large_raster_come_from_a_bounded_sample(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "world.byte.tif").read_bytes(), "world.tif")
    profile = result.profile
    assert profile is not None and profile["crs"]["epsg"] == 4326
    assert profile["coverage"]["bbox"] == [-180.0, -75.0, 180.0, 75.0]
    stats = profile["bands"][0]["statistics"]
    assert stats["sampled"] is True and stats["valid_pixels"] <= 1_000_000 < 2880 * 1200
    assert (profile["tiled"], profile["compression"]) == (True, "lzw")
    quicklook = {kind: data for kind, _, data in result.extra_artifacts}["quicklook"]
    # the longer side at most 512 pixels: grey and alpha
    assert png_header(quicklook) == (512, 213, GREY_ALPHA)  # type: ignore[arg-type]


def test_a_small_geotiff_in_nad27(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "byte.tif").read_bytes(), "byte.tif")
    assert result.profile is not None and result.profile["crs"]["epsg"] == 26711
    box = result.profile["coverage"]["bbox"]
    assert box == pytest.approx([-117.642, 33.8915, -117.629, 33.9024], abs=1e-3)


def test_a_tiff_with_a_bogus_ifd_offset_is_unreadable(tmp_path: Path) -> None:
    body = bytearray((DATA / "byte.tif").read_bytes())
    assert body[:4] == b"II*\x00"
    struct.pack_into("<I", body, 4, 0x7FFFFFF0)  # the first IFD, far past the end
    error = fails(ErrorCode.UNREADABLE, tmp_path, bytes(body), "bogus.tif")
    assert "not a readable raster" in error.message
    ok = run(tmp_path, (DATA / "byte.tif").read_bytes(), "next.tif")  # and the next one
    assert ok.profile is not None


def test_a_tiff_without_georeference_is_an_image_without_coverage(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with rasterio.open(DATA / "byte.tif") as src:
        pixels = src.read(1)
    with rasterio.MemoryFile() as memory, pytest.warns(NotGeoreferencedWarning):
        with memory.open(driver="GTiff", width=20, height=20, count=1, dtype="uint8") as dst:
            dst.write(pixels, 1)
        buffer.write(memory.read())
    result = run(tmp_path, buffer.getvalue(), "photo.tif")
    # no GeoTIFF tags: the image extractor's (formats/image.py), not the raster's
    assert result.profile is not None and result.profile["kind"] == "image"
    assert result.profile["coverage"] == {"bbox": None, "time_start": None, "time_end": None}


def _uncompressed_elevation(path: Path, side: int = 2048) -> None:
    """A tiled, uncompressed float32 GeoTIFF without overviews: the case GDAL maps."""
    import numpy as np
    from rasterio.transform import from_origin

    rows = np.arange(side, dtype="f4")[:, None]
    cols = np.arange(side, dtype="f4")[None, :]
    data = (200.0 + 150.0 * np.sin(rows / 70.0) * np.cos(cols / 90.0)).astype("f4")
    data[:64, :64] = -9999.0  # nodata in a corner
    with rasterio.open(
        path, "w", driver="GTiff", width=side, height=side, count=1, dtype="float32",
        crs="EPSG:32648", transform=from_origin(400_000.0, 1_700_000.0, 10.0, 10.0),
        tiled=True, blockxsize=256, blockysize=256, nodata=-9999.0,
    ) as dst:  # fmt: skip
        dst.write(data, 1)


def test_the_sample_step_reads_what_a_plain_decimated_read_reads(tmp_path: Path) -> None:
    """The header and the pixels are two children (native.FOLLOW_UPS); the pixels of an
    uncompressed file are read through GDAL's file mapping: the same numbers as a plain
    decimated read of the same pixels."""
    path = tmp_path / "dem.tif"
    _uncompressed_elevation(path)
    result = run(tmp_path / "work", path.read_bytes(), "dem.tif")
    assert result.profile is not None and result.profile["overviews"] == []
    stats = result.profile["bands"][0]["statistics"]
    with rasterio.open(path) as src:  # no mapping: GDAL reads the blocks
        plain = src.read(1, out_shape=(1000, 1000), masked=True)
    valid = plain.compressed().astype("float64")
    assert stats["sampled"] is True and stats["valid_pixels"] == valid.size
    assert stats["min"] == pytest.approx(valid.min()) and stats["max"] == pytest.approx(valid.max())
    assert stats["mean"] == pytest.approx(valid.mean()) and stats["std"] == pytest.approx(
        valid.std()
    )
    assert [kind for kind, _, _ in result.extra_artifacts] == ["quicklook"]


def test_a_crash_in_the_pixel_step_fails_the_file_and_the_next_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers.processing import native

    step, merge = native.FOLLOW_UPS["raster"]
    monkeypatch.setitem(native.FOLLOW_UPS, "raster", ("tests.fixtures.extractors:segfault", merge))
    error = fails(ErrorCode.EXTRACTOR_CRASHED, tmp_path, (DATA / "byte.tif").read_bytes(), "a.tif")
    assert "SIGSEGV" in error.message
    monkeypatch.setitem(native.FOLLOW_UPS, "raster", (step, merge))
    ok = run(tmp_path, (DATA / "byte.tif").read_bytes(), "b.tif")
    assert ok.profile is not None and ok.profile["bands"][0]["statistics"] is not None
