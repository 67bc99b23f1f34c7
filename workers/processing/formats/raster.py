"""Rasters: GeoTIFF and Cloud-Optimised GeoTIFF (rasterio, GDAL). Runs in the sandbox's
child process (native.py registers it for TIFF files).

The profile:

    {"kind": "raster", "driver": "GTiff", "width", "height", "count",
     "crs": {"epsg": 32648 | None, "wkt": "..."} | None, "transform": [a, b, c, d, e, f],
     "resolution": [x, y], "bounds": [left, bottom, right, top] (in the file's CRS),
     "overviews": [2, 4, ...], "tiled": bool, "compression": "deflate" | None,
     "bands": [{index, dtype, nodata, description, units, statistics: {min, max, mean,
                std, valid_pixels, sampled}}],
     "coverage": {"bbox": [w, s, e, n] (WGS 84) | None, "time_start", "time_end"}}

Two steps, each its own sandboxed child: `extract` reads the header only (what
rasterio.open gives, the CRS, the WGS 84 bounds; a band's `statistics` null), and `sample`
(run next by native.py, FOLLOW_UPS) reads the pixels for the bands' statistics and the
quicklook. Statistics come from a decimated read of at most `_SAMPLE_PIXELS` pixels per band
(GDAL takes them from the overviews when the file has them), never the full resolution of a
large file: `sampled` says whether every pixel was counted. On an uncompressed file without
overviews GDAL maps the file and touches only the sampled pixels' pages
(GTIFF_VIRTUAL_MEM_IO; it falls back to reading blocks when the mapping does not fit the
sandbox's address space). The quicklook is a PNG at most
`_QUICKLOOK` pixels on its longer side: the first band in grey, or the first three as RGB,
each stretched between its 2nd and 98th percentiles. The time of TIFFTAG_DATETIME, when the
file has one, is its time coverage.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..model import ErrorCode, ProcessingError
from . import coverage as cov
from . import remote

_SAMPLE_PIXELS = 1_000_000
_QUICKLOOK = 512
_QUICKLOOK_NAME = "quicklook.png"
_MAX_BANDS = 256
# GDAL's words for a store that failed a range read (after its own retries), not the file
_HTTP_FAILURE = re.compile(r"HTTP (response )?(code|error)|curl|Could not resolve|timed out", re.I)


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    """The header: the profile without the bands' statistics (`sample` adds them)."""
    with _opened(path, options) as src:
        return {"profile": _describe(src), "warnings": []}


def sample(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    """The pixels: every band's statistics from one bounded read, and the quicklook."""
    import rasterio

    # an uncompressed file without overviews: only the sampled pixels' pages are read
    with rasterio.Env(GTIFF_VIRTUAL_MEM_IO="IF_ENOUGH_RAM", GTIFF_DIRECT_IO="YES"):
        with _opened(path, options) as src:
            if src.count > _MAX_BANDS:
                raise ProcessingError(ErrorCode.TOO_COMPLEX, f"{src.count} bands")
            shape = _sample_shape(src.height, src.width, _SAMPLE_PIXELS)
            shown = [1, 2, 3] if src.count >= 3 else [1]
            samples: dict[int, Any] = {}  # the quicklook's bands, as sampled for statistics
            stats = [_statistics(src, i, shape, samples, shown) for i in range(1, src.count + 1)]
            files = []
            if src.count:
                _quicklook(src, [samples[i] for i in shown], Path(workdir) / _QUICKLOOK_NAME)
                name = _QUICKLOOK_NAME
                files.append({"kind": "quicklook", "name": name, "file": name})
    return {"profile": {"statistics": stats}, "warnings": [], "files": files}


def merge_sample(profile: dict[str, Any], sampled: dict[str, Any]) -> None:
    """`sample`'s statistics into `extract`'s profile, band by band."""
    stats = sampled.get("statistics", [])
    if len(stats) != len(profile["bands"]):
        raise ProcessingError(ErrorCode.UNREADABLE, "the sample does not match the bands")
    for band, found in zip(profile["bands"], stats, strict=True):
        band["statistics"] = found


@contextlib.contextmanager
def _opened(path: str, options: dict[str, Any]) -> Iterator[Any]:
    """The raster, from its file or (a Cloud-Optimised GeoTIFF in S3) by range."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioError

    remote.check_reachable(path, options)
    try:
        with warnings.catch_warnings():  # a TIFF without georeference: crs null, no coverage
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            with rasterio.Env(**remote.gdal_env(options) if options.get("remote") else {}):
                with rasterio.open(remote.gdal_path(path, options)) as src:
                    yield src
    except RasterioError as error:
        if options.get("remote") and _HTTP_FAILURE.search(str(error)):
            raise remote.RemoteUnavailable(f"GDAL: {error}"[:500]) from error
        raise ProcessingError(ErrorCode.UNREADABLE, f"not a readable raster: {error}") from error


def _describe(src: Any) -> dict[str, Any]:
    if src.count > _MAX_BANDS:
        raise ProcessingError(ErrorCode.TOO_COMPLEX, f"{src.count} bands (limit {_MAX_BANDS})")
    bands = [_band(src, index) for index in range(1, src.count + 1)]
    crs = None
    if src.crs is not None:
        crs = {"epsg": src.crs.to_epsg(), "wkt": src.crs.to_wkt()[:4000]}
    return {
        "kind": "raster",
        "driver": src.driver,
        "width": src.width,
        "height": src.height,
        "count": src.count,
        "crs": crs,
        "transform": list(src.transform)[:6],
        "resolution": list(src.res),
        "bounds": list(src.bounds),
        "overviews": src.overviews(1) if src.count else [],
        "tiled": bool(src.profile.get("tiled", False)),
        "compression": src.compression.value.lower() if src.compression else None,
        "bands": bands,
        "coverage": _coverage(src),
        "warnings": [],
    }


def _sample_shape(height: int, width: int, pixels: int) -> tuple[int, int]:
    if height * width <= pixels:
        return height, width
    scale = math.sqrt(pixels / (height * width))
    return max(1, int(height * scale)), max(1, int(width * scale))


def _statistics(
    src: Any, index: int, shape: tuple[int, int], samples: dict[int, Any], shown: list[int]
) -> dict[str, Any] | None:
    data = src.read(index, out_shape=shape, masked=True)
    if index in shown:
        samples[index] = data
    valid = data.compressed().astype("float64")
    valid = valid[np.isfinite(valid)]
    if not valid.size:
        return None
    return {
        "min": float(valid.min()),
        "max": float(valid.max()),
        "mean": float(valid.mean()),
        "std": float(valid.std()),
        "valid_pixels": int(valid.size),
        "sampled": shape != (src.height, src.width),
    }


def _band(src: Any, index: int) -> dict[str, Any]:
    nodata = src.nodatavals[index - 1]
    return {
        "index": index,
        "dtype": src.dtypes[index - 1],
        "nodata": None if nodata is None or not math.isfinite(nodata) else nodata,
        "description": src.descriptions[index - 1],
        "units": src.units[index - 1] or None,
        "statistics": None,
    }


def _coverage(src: Any) -> dict[str, Any]:
    from rasterio.warp import transform_bounds

    found = cov.empty()
    if src.crs is not None:
        box = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
        west, south, east, north = box
        found["bbox"] = cov.bbox((south, north), (west, east))
    stamp = src.tags().get("TIFFTAG_DATETIME")
    if stamp:
        try:
            moment = dt.datetime.strptime(stamp.strip(), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            pass
        else:
            found["time_start"] = found["time_end"] = cov.iso(moment)
    return found


def _quicklook(src: Any, sampled: list[Any], out: Path) -> None:
    """From the bands' samples (nearest pixels): a second decimated read of the file would
    touch every block of a raster without overviews again."""
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    height, width = _sample_shape(src.height, src.width, _QUICKLOOK * _QUICKLOOK)
    longer = max(height, width)
    if longer > _QUICKLOOK:
        height = max(1, height * _QUICKLOOK // longer)
        width = max(1, width * _QUICKLOOK // longer)
    rows = _nearest(sampled[0].shape[0], height)
    cols = _nearest(sampled[0].shape[1], width)
    data = np.ma.stack([band[rows][:, cols] for band in sampled])
    image = np.zeros((len(sampled), height, width), dtype="uint8")
    for i, band in enumerate(data):
        image[i] = _stretch(band)
    alpha = (~np.ma.getmaskarray(data).any(axis=0)).astype("uint8") * 255
    layers = np.concatenate([image, alpha[None]])
    with warnings.catch_warnings():  # a quicklook is a picture: no georeference wanted
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            out, "w", driver="PNG", width=width, height=height, count=len(layers), dtype="uint8"
        ) as png:
            png.write(layers)


def _nearest(size: int, wanted: int) -> Any:
    """`wanted` indexes into `size` pixels, each the centre of its share."""
    return ((np.arange(wanted) + 0.5) * size / wanted).astype("int64").clip(0, size - 1)


def _stretch(band: Any) -> Any:
    values = band.compressed().astype("float64")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.zeros(band.shape, dtype="uint8")
    low, high = np.percentile(values, [2, 98])
    scaled = (np.ma.filled(band.astype("float64"), low) - low) / max(high - low, 1e-12)
    return (np.clip(np.nan_to_num(scaled, nan=0.0), 0, 1) * 255).astype("uint8")
