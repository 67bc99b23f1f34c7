"""Vectors (workers/processing/formats/vector.py, in the sandbox): layers, counts, geometry
types, CRS, WGS 84 bbox, attribute schema and a GeoParquet table per layer. Real files:
pyogrio's own fixtures in the installed wheel (Natural Earth countries, public domain, zipped
here as users send shapefiles; GeoPackages)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pyogrio
import pytest

from server.models.enums import UploadWarningCode
from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode, native

FIXTURES = Path(pyogrio.__file__).parent / "tests" / "fixtures"
NATURAL_EARTH = FIXTURES / "naturalearth_lowres"


def zipped_shapefile() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(NATURAL_EARTH.glob("naturalearth_lowres.*")):
            archive.write(part, part.name)
    return buffer.getvalue()


def test_a_zipped_shapefile_becomes_a_geoparquet_layer(tmp_path: Path) -> None:
    result = run(tmp_path, zipped_shapefile(), "countries.zip")
    assert (result.format.kind, result.format.detail) == ("shapefile", "zipped")
    profile = result.profile
    assert profile is not None and profile["kind"] == "vector"
    assert profile["driver"] == "ESRI Shapefile"
    (layer,) = profile["layers"]
    assert (layer["name"], layer["geometry_type"], layer["features"]) == (
        "naturalearth_lowres",
        "Polygon",
        177,
    )
    assert layer["crs"]["epsg"] == 4326
    assert [f["name"] for f in layer["fields"]] == [
        "pop_est",
        "continent",
        "name",
        "iso_a3",
        "gdp_md_est",
    ]
    assert layer["bbox"] == pytest.approx([-180.0, -90.0, 180.0, 83.64513], abs=1e-4)
    assert profile["coverage"]["bbox"] == layer["bbox"]
    assert result.preview is not None and result.preview[0]["name"] == "Fiji"
    assert "wkb_geometry" not in result.preview[0]  # the preview shows the attributes
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.num_rows == 177 and "wkb_geometry" in table.column_names
    geo = json.loads(pq.read_schema(result.parquet_path).metadata[b"geo"])  # type: ignore[arg-type]
    assert geo["primary_column"] == "wkb_geometry"
    column = geo["columns"]["wkb_geometry"]
    assert (column["encoding"], column["geometry_types"]) == ("WKB", ["Polygon"])
    assert column["crs"]["id"] == {"authority": "EPSG", "code": 4326}


def test_a_geopackage_layer_and_its_attribute_types(tmp_path: Path) -> None:
    result = run(tmp_path, (FIXTURES / "test_gpkg_nulls.gpkg").read_bytes(), "points.gpkg")
    assert result.format.kind == "gpkg"
    assert result.profile is not None
    (layer,) = result.profile["layers"]
    assert (layer["geometry_type"], layer["features"], layer["bbox"]) == (
        "Point",
        4,
        [0.0, 0.0, 4.0, 4.0],
    )
    columns = {c["name"]: c for c in layer["profile"]["columns"]}
    assert columns["col_float64"]["type"] == "float" and columns["col_int64"]["null_count"] == 1
    assert result.profile["search_text"].split()[:3] == [layer["name"], "col_bool", "col_int8"]


def test_a_shapefile_zip_bomb_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(NATURAL_EARTH / "naturalearth_lowres.prj", "bomb.prj")
        with archive.open("bomb.shp", "w", force_zip64=True) as member:
            for _ in range(64):  # 64 MiB of zeros, about 64 KiB compressed
                member.write(bytes(1024 * 1024))
    fails(ErrorCode.ZIP_BOMB, tmp_path, buffer.getvalue(), "bomb.zip")


def test_a_truncated_geopackage_is_unreadable(tmp_path: Path) -> None:
    body = (FIXTURES / "test_gpkg_nulls.gpkg").read_bytes()
    fails(ErrorCode.UNREADABLE, tmp_path, body[: len(body) // 3], "cut.gpkg")
    ok = run(tmp_path, body, "next.gpkg")  # the worker goes on
    assert ok.profile is not None


def test_a_kml_file_written_by_gdal_from_natural_earth(tmp_path: Path) -> None:
    from pyogrio.raw import read, write

    meta, _, geometry, fields = read(
        NATURAL_EARTH / "naturalearth_lowres.shp", columns=["name", "iso_a3"]
    )
    path = tmp_path / "countries.kml"
    write(
        path,
        geometry,
        fields,
        list(meta["fields"]),
        driver="KML",
        crs=meta["crs"],
        geometry_type="Polygon",
        layer="countries",
    )
    result = run(tmp_path, path.read_bytes(), "countries.kml")
    assert result.format.kind == "kml"
    assert result.profile is not None
    (layer,) = result.profile["layers"]
    assert (layer["name"], layer["features"]) == ("countries", 177)
    assert layer["bbox"] == pytest.approx([-180.0, -90.0, 180.0, 83.64513], abs=1e-4)
    assert result.preview is not None and result.preview[0]["Name"] == "Fiji"


def test_what_gdal_warns_about_a_file_reaches_the_user(tmp_path: Path) -> None:
    result = run(tmp_path, (FIXTURES / "line_zm.gpkg").read_bytes(), "line.gpkg")
    assert result.profile is not None
    assert result.profile["layers"][0]["geometry_type"] == "LineString Z"
    assert [w.code for w in result.warnings] == [UploadWarningCode.READER_WARNING]
    assert "Measured (M) geometry types are not supported" in result.warnings[0].message


def test_geojson_is_a_table_and_a_geoparquet_layer(tmp_path: Path) -> None:
    """Fiji's towns (tests/fixtures/data): jsonstream's table and its box across the
    antimeridian stay; GDAL's layer (in the sandbox) joins the profile, with a GeoParquet."""
    body = (Path(__file__).parents[1] / "fixtures" / "data" / "fiji_towns.geojson").read_bytes()
    result = run(tmp_path, body, "fiji towns.geojson")
    profile = result.profile
    assert profile is not None and profile["rows"] == 3
    assert profile["coverage"]["bbox"] == [178.44, -18.23, -178.8, -16.43]  # the short way
    assert result.parquet_path is not None and result.preview  # the table, as before
    assert profile["driver"] == "GeoJSON"
    (layer,) = profile["layers"]
    assert (layer["geometry_type"], layer["features"], layer["crs"]["epsg"]) == ("Point", 3, 4326)
    assert [f["name"] for f in layer["fields"]] == ["town", "island"]
    assert layer["bounds"] == [-178.8, -18.23, 179.38, -16.43]
    assert profile["search_text"] == f"{layer['name']} town island"
    ((kind, name, path),) = result.extra_artifacts
    assert (kind, name, layer["parquet"]) == ("geoparquet", "data.geo.parquet", "geoparquet")
    table = pq.read_table(path)
    geo = json.loads(table.schema.metadata[b"geo"])
    assert (geo["version"], geo["columns"]["wkb_geometry"]["geometry_types"]) == (
        "1.1.0",
        ["Point"],
    )
    assert table.column("town").to_pylist()[0] and table.num_rows == 3
    unnamed = {"type": "FeatureCollection", "features": [json.loads(body)["features"][0]]}
    other = run(tmp_path, json.dumps(unnamed).encode(), "towns 2024.geojson").profile
    assert other is not None and other["layers"][0]["name"] == "towns_2024"  # the upload's name


def test_a_geojson_gdal_cannot_read_stays_a_table_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(native, "GEOJSON_LAYER", "tests.fixtures.extractors:segfault")
    body = (Path(__file__).parents[1] / "fixtures" / "data" / "fiji_towns.geojson").read_bytes()
    result = run(tmp_path, body, "fiji.geojson")
    assert result.profile is not None and result.profile["rows"] == 3
    assert "layers" not in result.profile and result.extra_artifacts == []
    (warning,) = result.warnings
    assert warning.code == UploadWarningCode.READER_WARNING
    assert warning.message.startswith("not read as a vector layer (EXTRACTOR_CRASHED)")
