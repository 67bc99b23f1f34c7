"""GeoJSON's coverage: the box of every position, in the profile's agreed `coverage` key.
Inputs are real places (tests/fixtures/data/README.md says where they come from)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fixtures.processing import run

DATA = Path(__file__).parent.parent / "fixtures" / "data"


def test_mekong_stations_give_their_box(tmp_path: Path) -> None:
    body = (DATA / "mekong_stations.geojson").read_bytes()
    result = run(tmp_path, body, "stations.geojson")
    assert result.profile is not None and result.profile["rows"] == 10
    assert result.profile["coverage"] == {
        "bbox": [100.09, 10.03, 106.02, 20.27],
        "time_start": None,
        "time_end": None,
    }


def test_fiji_crosses_the_antimeridian(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "fiji_towns.geojson").read_bytes(), "fiji.geojson")
    assert result.profile is not None
    assert result.profile["coverage"]["bbox"] == [178.44, -18.23, -178.8, -16.43]


def test_nested_geometries_and_a_single_feature(tmp_path: Path) -> None:
    collection = {
        "type": "Feature",
        "properties": {"name": "Tonle Sap and Phnom Penh"},
        "geometry": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Point", "coordinates": [104.92, 11.56, 12.0]},
                {
                    "type": "Polygon",
                    "coordinates": [[[103.7, 12.4], [104.6, 12.4], [104.6, 13.2], [103.7, 12.4]]],
                },
            ],
        },
    }
    result = run(tmp_path, json.dumps(collection).encode(), "lake.geojson")
    assert result.profile is not None
    assert result.profile["coverage"]["bbox"] == [103.7, 11.56, 104.92, 13.2]


def test_projected_coordinates_give_no_box_and_a_warning(tmp_path: Path) -> None:
    # UTM zone 48N metres (a GeoJSON of the old CRS-member kind): not degrees
    utm = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Point", "coordinates": [500000.0, 1300000.0]},
            },
        ],
    }
    result = run(tmp_path, json.dumps(utm).encode(), "utm.geojson")
    assert result.profile is not None and result.profile["coverage"]["bbox"] is None
    assert any("outside WGS 84" in w["message"] for w in result.profile["warnings"])


def test_features_without_geometry(tmp_path: Path) -> None:
    empty = {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": None, "properties": {"a": 1}}],
    }
    result = run(tmp_path, json.dumps(empty).encode(), "none.geojson")
    assert result.profile is not None and result.profile["coverage"]["bbox"] is None
