"""Vectors: GeoPackage, zipped Shapefile, FlatGeobuf and KML (pyogrio, GDAL/OGR), and GeoJSON's
layer after its table (native.add_layer). Runs in the sandbox's child process (native.py
registers it).

Each layer (at most `_MAX_LAYERS`) becomes a table: its attributes and its geometry (WKB)
stream in record batches from GDAL into a GeoParquet file (the "geo" metadata of GeoParquet
1.1: WKB encoding, geometry types, the layer's CRS as PROJJSON, its bbox), with the same
column profile and preview as any table (the preview without the geometry). The profile:

    {"kind": "vector", "driver": "GPKG",
     "layers": [{name, geometry_type, geometry_column, features, crs {epsg, wkt} | None,
                 bounds (in the layer's CRS), bbox (WGS 84), fields [{name, dtype}],
                 parquet, preview, profile}],
     "coverage": {"bbox": union of the layers' WGS 84 boxes, "time_start": None, ...},
     "search_text": the layers' names and their attributes' names, for the datasets' search
                    (migration 0013), at most `SEARCH_CHARS` characters}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..model import ErrorCode, Limits, ProcessingError
from ..profile import TableSink
from . import coverage as cov

_MAX_LAYERS = 64
_BATCH = 16_384
SEARCH_CHARS = 8192


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    limits = Limits(
        preview_rows=options.get("preview_rows", 100),
        max_columns=options.get("max_columns", 4096),
        row_group_bytes=options.get("row_group_bytes", 4 * 1024 * 1024),
    )
    source = f"/vsizip/{path}" if options.get("kind") == "shapefile" else path
    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(source)]
    except (DataSourceError, DataLayerError, OSError) as error:
        message = f"not a readable vector file: {error}"
        raise ProcessingError(ErrorCode.UNREADABLE, message) from error
    if len(layers) > _MAX_LAYERS:
        raise ProcessingError(ErrorCode.TOO_COMPLEX, f"{len(layers)} layers (limit {_MAX_LAYERS})")
    described, tables, found, driver = [], [], cov.empty(), None
    for n, name in enumerate(layers):
        try:
            layer, table, driver = _layer(source, name, n, Path(workdir), limits)
        except (DataSourceError, DataLayerError) as error:
            raise ProcessingError(ErrorCode.UNREADABLE, f"layer {name!r}: {error}") from error
        described.append(layer)
        tables.append(table)
        found = cov.widen(found, {"bbox": layer["bbox"], "time_start": None, "time_end": None})
    profile = {
        "kind": "vector",
        "driver": driver,
        "layers": described,
        "coverage": found,
        "search_text": search_text(described),
        "warnings": [],
    }
    return {"profile": profile, "warnings": [], "tables": tables}


def search_text(layers: list[dict[str, Any]]) -> str:
    """What a file is found by: its layers' names and attribute names, once each, bounded."""
    words = [layer["name"] for layer in layers]
    words += [field["name"] for layer in layers for field in layer["fields"]]
    return " ".join(dict.fromkeys(w for w in words if w))[:SEARCH_CHARS]


def _layer(
    source: str, name: str, n: int, workdir: Path, limits: Limits
) -> tuple[dict[str, Any], dict[str, Any], str]:
    import pyogrio
    from pyogrio.raw import open_arrow

    info = pyogrio.read_info(source, layer=name, force_feature_count=True, force_total_bounds=True)
    crs = _crs(info.get("crs"))
    bounds = [float(v) for v in info["total_bounds"]] if info.get("features") else None
    out = workdir / f"layer-{n}.parquet"
    with open_arrow(source, layer=name, use_pyarrow=True, batch_size=_BATCH) as (meta, reader):
        geometry = meta.get("geometry_name") or "wkb_geometry"
        schema = _geoparquet_schema(reader.schema, geometry, info, crs, bounds)
        sink = TableSink(schema, out, limits)
        try:
            for batch in reader:
                sink.add(batch)
            sink.close()
        except BaseException:
            sink.abort()
            raise
    preview = [{k: v for k, v in row.items() if k != geometry} for row in sink.preview]
    layer = {
        "name": name,
        "geometry_type": info.get("geometry_type"),
        "geometry_column": geometry,
        "features": int(info.get("features") or 0),
        "crs": crs,
        "bounds": bounds,
        "bbox": _wgs84(info.get("crs"), bounds),
        "fields": [
            {"name": str(f), "dtype": str(d)}
            for f, d in zip(info["fields"], info["dtypes"], strict=True)
        ],
        "parquet": "parquet" if n == 0 else f"parquet.{n}",
        "preview": "preview" if n == 0 else f"preview.{n}",
        "profile": sink.profile(),
    }
    return layer, {"parquet": out.name, "preview": preview}, str(info.get("driver"))


def _crs(user: Any) -> dict[str, Any] | None:
    if not user:
        return None
    from rasterio.crs import CRS

    crs = CRS.from_user_input(user)
    return {"epsg": crs.to_epsg(), "wkt": crs.to_wkt()[:4000]}


def _wgs84(user: Any, bounds: list[float] | None) -> list[float] | None:
    if bounds is None or not user:
        return None
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(user, "EPSG:4326", *bounds, densify_pts=21)
    return cov.bbox((south, north), (west, east))


def _geoparquet_schema(
    schema: pa.Schema, geometry: str, info: dict[str, Any], crs: Any, bounds: Any
) -> pa.Schema:
    """GeoParquet 1.1 metadata on the Arrow schema GDAL gives (its WKB geometry column)."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": []}
    kind = info.get("geometry_type")
    if kind and kind not in ("Unknown", "Geometry"):
        column["geometry_types"] = [str(kind)]  # "Point", "LineString Z", ...
    if info.get("crs"):
        from rasterio.crs import CRS

        column["crs"] = CRS.from_user_input(info["crs"]).to_dict(projjson=True)
    if bounds is not None:
        column["bbox"] = bounds
    geo = {"version": "1.1.0", "primary_column": geometry, "columns": {geometry: column}}
    fields = [pa.field(f.name, f.type) if f.name == geometry else f for f in schema]
    return pa.schema(fields, metadata={b"geo": json.dumps(geo).encode()})
