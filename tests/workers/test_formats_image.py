"""Images (workers/processing/formats/image.py, Pillow in the sandbox): size, mode, EXIF time
and camera, GPS as a point, a bounded thumbnail; TIFFs without geo tags. Real files: a
Nikon photograph with GPS tags (exif-samples) and Pillow's hopper images
(tests/workers/data/README.md)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode

DATA = Path(__file__).parent / "data"


def artifacts(result: object) -> dict[str, Path]:
    return {kind: data for kind, _, data in result.extra_artifacts}  # type: ignore[attr-defined,misc]


def test_a_photograph_with_exif_camera_and_gps(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "DSCN0010.jpg").read_bytes(), "tuscany.jpg")
    assert result.format.kind == "jpeg"
    profile = result.profile
    assert profile is not None and profile["kind"] == "image"
    assert (profile["width"], profile["height"], profile["mode"]) == (640, 480, "RGB")
    assert profile["camera"] == {"make": "NIKON", "model": "COOLPIX P6000", "lens": None}
    assert profile["taken"] == "2008-10-22T16:28:39"  # the camera's clock, as written
    # GPS: N 43 28' 2.814", E 11 53' 6.456"; the GPS stamp (UTC) is the moment taken
    lat = 43 + 28 / 60 + 2.814 / 3600
    lon = 11 + 53 / 60 + 6.45599999 / 3600
    assert profile["gps"]["latitude"] == pytest.approx(lat)
    assert profile["gps"]["longitude"] == pytest.approx(lon)
    coverage = profile["coverage"]
    assert coverage["bbox"] == pytest.approx([lon, lat, lon, lat])
    assert coverage["time_start"] == coverage["time_end"] == "2008-10-23T14:27:07Z"
    with Image.open(artifacts(result)["thumbnail"]) as thumb:
        assert (thumb.format, thumb.size) == ("PNG", (256, 192))


def test_a_png_without_exif(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "hopper.png").read_bytes(), "hopper.png")
    profile = result.profile
    assert profile is not None and (profile["format"], profile["width"]) == ("PNG", 128)
    assert profile["camera"] is None and profile["gps"] is None
    assert profile["coverage"] == {"bbox": None, "time_start": None, "time_end": None}
    with Image.open(artifacts(result)["thumbnail"]) as thumb:
        assert thumb.size == (128, 128)  # never enlarged


def test_a_tiff_without_geo_tags_is_an_image(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "hopper.tif").read_bytes(), "hopper.tif")
    assert result.format.kind == "tiff"
    assert result.profile is not None and result.profile["kind"] == "image"
    assert result.profile["format"] == "TIFF" and "thumbnail" in artifacts(result)


def test_a_geotiff_is_still_a_raster(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "byte.tif").read_bytes(), "byte.tif")
    assert result.profile is not None and result.profile["kind"] == "raster"


def png_bomb(side: int) -> bytes:
    """A real PNG of side x side black grey pixels: a few hundred kilobytes that decode to
    side**2 bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" * (side + 1)  # filter byte 0, then the pixels
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def test_a_png_decompression_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    body = png_bomb(20_000)  # 400 million pixels, 400 MB decoded
    assert len(body) < 1_000_000
    error = fails(ErrorCode.DECOMPRESSION_BOMB, tmp_path, body, "bomb.png")
    assert "400000000 pixels" in error.message
    ok = run(tmp_path, (DATA / "hopper.png").read_bytes(), "next.png")  # the next job
    assert ok.profile is not None


def test_a_cut_jpeg_is_unreadable(tmp_path: Path) -> None:
    body = (DATA / "hopper.jpg").read_bytes()
    fails(ErrorCode.UNREADABLE, tmp_path, body[: len(body) // 3], "cut.jpg")
