"""The formats read by native libraries, through the sandbox, and what their answers become.

An extractor (run in the child by `sandbox.run_extractor`) answers a dict:

    {"profile": {...},                       # the file's profile (JSON)
     "warnings": [{"code": ..., "message": ...}],
     "tables": [{"parquet": "<file in workdir>", "preview": [...]}, ...],  # optional
     "files": [{"kind": "quicklook", "name": "quicklook.png", "file": "<in workdir>"}]}

Table i's Parquet and preview become artifacts: the first table's as `parquet`/`preview`
(what single-table files have), table i's (i >= 1) as `parquet.<i>`/`preview.<i>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

from server.models.enums import UploadWarningCode

from .formats import raster
from .model import DetectedFormat, ErrorCode, Limits, Notice, ProcessingError, ProcessingResult
from .sandbox import run_extractor

# format kind -> the extractor the child runs ("module:function"); tests swap entries in
_SPREADSHEET = "workers.processing.formats.spreadsheet:extract"
_EXTENSIONS = {
    "netcdf": "nc",
    "hdf5": "h5",
    "tiff": "tif",
    "flatgeobuf": "fgb",
    "shapefile": "zip",
    "fasta": "fa",
    "fastq": "fq",
    "jpeg": "jpg",
}
_LAYER_NAME = re.compile(r"[^\w.-]+")
_GRIDDED = "workers.processing.formats.gridded:extract"
# a TIFF with GeoTIFF tags goes on to raster.py, one without them is an image
_TIFF = "workers.processing.formats.image:extract_tiff"
_VECTOR = "workers.processing.formats.vector:extract"
GEOJSON_LAYER = _VECTOR  # GeoJSON's layer, after its table (add_layer); tests swap it
_SEQUENCE = "workers.processing.formats.sequence:extract"
_SEISMIC = "workers.processing.formats.seismic:extract"
_IMAGE = "workers.processing.formats.image:extract"
_PDF = "workers.processing.formats.pdf:extract"
EXTRACTORS: dict[str, str] = {
    "xlsx": _SPREADSHEET,
    "ods": _SPREADSHEET,
    "xls": _SPREADSHEET,
    "netcdf": _GRIDDED,
    "hdf5": _GRIDDED,
    "tiff": _TIFF,
    "gpkg": _VECTOR,
    "flatgeobuf": _VECTOR,
    "shapefile": _VECTOR,
    "kml": _VECTOR,
    "fasta": _SEQUENCE,
    "fastq": _SEQUENCE,
    "vcf": _SEQUENCE,
    "mseed": _SEISMIC,
    "sac": _SEISMIC,
    "png": _IMAGE,
    "jpeg": _IMAGE,
    "gif": _IMAGE,
    "webp": _IMAGE,
    "pdf": _PDF,
}


# a profile kind -> the second step run on the same file in a child of its own, and how its
# answer joins the first's (rasters: the header first, then the pixels' statistics and the
# quicklook); the first step's answer says only its kind, never which code runs next
FollowUp = tuple[str, Callable[[dict[str, Any], dict[str, Any]], None]]
FOLLOW_UPS: dict[str, FollowUp] = {
    "raster": ("workers.processing.formats.raster:sample", raster.merge_sample),
}


def handles(fmt: DetectedFormat) -> bool:
    return fmt.kind in EXTRACTORS


def extract(result: ProcessingResult, source: Path, workdir: Path, limits: Limits) -> None:
    """Run the format's extractor on `source` and put its answer into `result`."""
    apply(result, run(result.format, source, workdir, limits), workdir)


# formats whose extractor reads the raw object by range (formats/remote.py) when the store
# serves ranges: HDF5-based files (NetCDF-4, HDF5), whose header and coordinates are a small
# part of them; a file with an HDF5 user block (the signature further in) is spooled
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_RANGED_KINDS = {"netcdf", "hdf5"}
# and Cloud-Optimised GeoTIFFs, known by the structural metadata GDAL writes right after
# the TIFF header (its IFDs and overviews first, so the header step and the overviews'
# pixels are a few ranges); any other TIFF is spooled: its pixel sample may touch every block
_COG_MARK = b"LAYOUT=IFDS_BEFORE_DATA"


def reads_by_range(fmt: DetectedFormat, head: bytes) -> bool:
    if fmt.kind == "tiff":
        return _COG_MARK in head[:1024]
    return fmt.kind in _RANGED_KINDS and head.startswith(_HDF5_SIGNATURE)


def run(
    fmt: DetectedFormat,
    source: Path | str,
    workdir: Path,
    limits: Limits,
    etag: str | None = None,
) -> dict[str, Any]:
    """The extractor's answer for `source`: a local file, or (a str) an HTTP URL serving the
    object's byte ranges, for the formats `reads_by_range` accepts."""
    kind = fmt.kind
    target = EXTRACTORS[kind]
    workdir.mkdir(parents=True, exist_ok=True)
    options = {"kind": kind, "detail": fmt.detail, **_options(limits)}
    if isinstance(source, str):
        options.update(remote=True, etag=etag)
        return _steps(target, source, workdir, limits, options)
    # readers that go by the file's extension (calamine) see the detected format's
    named = workdir / f"input.{_EXTENSIONS.get(kind, kind)}"
    named.unlink(missing_ok=True)
    named.symlink_to(source.resolve())
    try:
        return _steps(target, str(named), workdir, limits, options)
    finally:
        named.unlink(missing_ok=True)


def _steps(
    target: str, path: str, workdir: Path, limits: Limits, options: dict[str, Any]
) -> dict[str, Any]:
    answer = run_extractor(target, path, workdir, limits, options)
    follow_up = FOLLOW_UPS.get(str((answer.get("profile") or {}).get("kind")))
    if follow_up is not None:
        step, merge = follow_up
        more = run_extractor(step, path, workdir, limits, options)
        merge(answer["profile"], more.get("profile") or {})
        answer.setdefault("warnings", []).extend(more.get("warnings", []))
        answer.setdefault("files", []).extend(more.get("files", []))
    return answer


def add_layer(
    result: ProcessingResult, source: Path, workdir: Path, limits: Limits, filename: str
) -> None:
    """A GeoJSON file, already a table (jsonstream: rows, preview, Parquet, the coverage's
    bbox), read as a vector layer too, by GDAL in the sandbox like the other vector files:
    its layer (geometry type, features, CRS, WGS 84 bbox, attribute schema) joins the
    profile and its GeoParquet becomes the `geoparquet` artifact. If GDAL cannot read the
    file, the table stays and a READER_WARNING says why. GDAL names the layer after the
    collection's "name" member, else after the file: the upload's name."""
    assert result.profile is not None
    workdir.mkdir(parents=True, exist_ok=True)
    stem = _LAYER_NAME.sub("_", PurePath(filename).stem)[:100].strip("._") or "layer"
    named = workdir / f"{stem}.geojson"
    named.unlink(missing_ok=True)
    named.symlink_to(source.resolve())
    options = {"kind": "geojson", "detail": None, **_options(limits)}
    try:
        answer = run_extractor(GEOJSON_LAYER, named, workdir, limits, options)
        layers, tables = answer["profile"]["layers"], answer.get("tables", [])
        if len(layers) != 1 or len(tables) != 1:
            raise ProcessingError(ErrorCode.UNREADABLE, f"{len(layers)} layers, not one")
        parquet = _inside(workdir, tables[0]["parquet"])
    except ProcessingError as error:
        message = f"not read as a vector layer ({error.code}): {error.message}"[:500]
        result.warnings.append(Notice(UploadWarningCode.READER_WARNING, message))
        return
    finally:
        named.unlink(missing_ok=True)
    layer = {k: v for k, v in layers[0].items() if k not in ("preview", "profile")}
    layer["parquet"] = "geoparquet"
    result.profile["driver"] = answer["profile"]["driver"]
    result.profile["layers"] = [layer]
    result.profile["search_text"] = answer["profile"]["search_text"]
    for raw in answer.get("warnings", []):
        result.warnings.append(Notice(UploadWarningCode(raw["code"]), str(raw["message"])))
    result.extra_artifacts.append(("geoparquet", "data.geo.parquet", parquet))


def _options(limits: Limits) -> dict[str, Any]:
    return {
        "preview_rows": limits.preview_rows,
        "max_columns": limits.max_columns,
        "max_sheets": limits.max_sheets,
        "max_variables": limits.max_variables,
        "row_group_bytes": limits.row_group_bytes,
    }


def apply(result: ProcessingResult, answer: dict[str, Any], workdir: Path) -> None:
    result.profile = answer.get("profile")
    for raw in answer.get("warnings", []):
        result.warnings.append(Notice(UploadWarningCode(raw["code"]), str(raw["message"])))
    for index, table in enumerate(answer.get("tables", [])):
        parquet = _inside(workdir, table["parquet"])
        preview = json.dumps(table.get("preview", []), ensure_ascii=False).encode()
        if index == 0:
            result.parquet_path = parquet
            result.preview = table.get("preview", [])
        else:
            result.extra_artifacts.append((f"parquet.{index}", f"data.{index}.parquet", parquet))
            result.extra_artifacts.append((f"preview.{index}", f"preview.{index}.json", preview))
    for made in answer.get("files", []):  # a quicklook, ...
        result.extra_artifacts.append((made["kind"], made["name"], _inside(workdir, made["file"])))


def _inside(workdir: Path, name: str) -> Path:
    path = (workdir / name).resolve()
    if workdir.resolve() not in path.parents or not path.is_file():
        raise ProcessingError(ErrorCode.UNREADABLE, f"the extractor wrote no table {name!r}")
    return path
