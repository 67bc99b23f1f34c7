"""The processing core: detection, profile, normalised Parquet, preview, the JSON family.
Bad input, archives, sources, bounded memory and parsing during the download:
test_processing_input.py.

Every input is generated here, in tmp_path; nothing touches a database or object store.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import h5py
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.fixtures.processing import csv_bytes, known_rows, parquet_bytes, run, zip_bytes
from workers.processing import PARQUET_NAME, Limits, detect_format
from workers.processing.sketch import HyperLogLog

# --- generated samples ------------------------------------------------------------------


def xlsx_bytes() -> bytes:
    """A minimal workbook package (openpyxl is not a dependency: the parts are written
    directly, which is all detection reads)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook/>')
        zf.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet/>')
    return buf.getvalue()


GEOJSON = json.dumps(
    {
        "type": "FeatureCollection",
        "name": "plots",
        "features": [
            {
                "type": "Feature",
                "id": i,
                "properties": {"plot": f"P{i}", "area_ha": 1.5 * i, "tags": ["a", "b"]},
                "geometry": {"type": "Point", "coordinates": [106.8 + i / 100, -6.2]},
            }
            for i in range(1, 6)
        ],
    }
).encode()


DATA = Path(__file__).parent / "data"  # real sample files, see data/README.md
WORKBOOKS = {"xlsx", "xls"}  # a profile and a table per sheet
# a profile, no table (images and PDFs: formats/image.py, formats/pdf.py)
GRIDDED = {"netcdf", "hdf5", "tiff", "png", "jpeg", "gif", "webp", "pdf"}


def pillow_bytes(source: Path, fmt: str) -> bytes:
    """A real picture (Pillow's hopper, see data/README.md) written by Pillow as `fmt`."""
    buf = io.BytesIO()
    with Image.open(source) as img:
        img.save(buf, format=fmt)
    return buf.getvalue()


H5PY_FILE = Path(h5py.__file__).parent / "tests" / "data_files" / "vlen_string_dset.h5"
SAMPLES: dict[str, tuple[str, bytes, str, bool]] = {
    # name: (filename, bytes, expected kind, tabular)
    "csv": ("plots.csv", csv_bytes([["a", "b"], [1, "x"], [2, "y"]]), "csv", True),
    "tsv": ("plots.tsv", csv_bytes([["a", "b"], [1, "x"], [2, "y"]], "\t"), "tsv", True),
    "ndjson": ("log.ndjson", b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n', "ndjson", True),
    "json-array": ("rows.json", b'[{"a": 1}, {"a": 2, "b": true}]', "json", True),
    "json-object": ("meta.json", b'{"title": "x", "n": 1}', "json", False),
    "geojson": ("plots.geojson", GEOJSON, "geojson", True),
    "parquet": ("t.parquet", parquet_bytes(), "parquet", True),
    "xlsx": ("book.xlsx", (DATA / "table-multiple.xlsx").read_bytes(), "xlsx", False),
    "zip": ("bundle.zip", zip_bytes(), "zip", False),
    "png": ("photo.png", (DATA / "hopper.png").read_bytes(), "png", False),
    "jpeg": ("photo.jpg", (DATA / "hopper.jpg").read_bytes(), "jpeg", False),
    "gif": ("a.gif", pillow_bytes(DATA / "hopper.png", "GIF"), "gif", False),
    "tiff": ("a.tif", (DATA / "byte.tif").read_bytes(), "tiff", False),
    "webp": ("a.webp", pillow_bytes(DATA / "hopper.png", "WEBP"), "webp", False),
    "pdf": ("report.pdf", (DATA / "crazyones.pdf").read_bytes(), "pdf", False),
    "hdf5": ("model.h5", H5PY_FILE.read_bytes(), "hdf5", False),
    "netcdf4": ("sst.nc", H5PY_FILE.read_bytes(), "netcdf", False),  # libnetcdf reads HDF5
    "netcdf3": ("sst.nc", (DATA / "example_1.nc").read_bytes(), "netcdf", False),
    "gzip": ("x.csv.gz", gzip.compress(b"a,b\n1,2\n"), "gzip", False),
    "xls": ("old.xls", (DATA / "base.xls").read_bytes(), "xls", False),
    "binary": ("blob.bin", bytes(range(256)) * 4, "opaque", False),
    "text": ("notes.txt", b"Field notes\nNo delimiter here at all\n", "text", False),
}


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", SAMPLES)
def test_each_format_is_detected(tmp_path: Path, name: str) -> None:
    filename, data, kind, tabular = SAMPLES[name]
    result = run(tmp_path, data, filename)
    assert result.format.kind == kind
    assert result.format.tabular is tabular
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    tables = tabular or kind in WORKBOOKS  # workbooks: one table per sheet
    assert (result.profile is not None) is (tables or kind in GRIDDED)
    assert (result.parquet_path is not None) is tables


def test_detection_from_head_alone() -> None:
    assert detect_format(b"PAR1\x15\x04", "x.bin").kind == "parquet"
    assert detect_format(b"a;b;c\n1;2;3\n4;5;6\n", "x").delimiter == ";"
    assert detect_format(b"single\ncolumn\n", "values.csv").kind == "csv"
    assert detect_format(b"single\ncolumn\n", "values.txt").kind == "text"
    assert detect_format(xlsx_bytes()[:4096], "book.xlsx").kind == "xlsx"
    assert detect_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "x.doc").kind == "ole2"
    assert detect_format(b"", "empty.csv").kind == "opaque"


def test_opaque_formats_are_never_spooled(tmp_path: Path) -> None:
    result = run(tmp_path, bytes(range(256)) * 5000, "blob.bin")
    assert result.format.kind == "opaque"
    assert not any((tmp_path / "work").glob("*")) if (tmp_path / "work").exists() else True


# --- profile, Parquet, preview --------------------------------------------------------------


def test_profile_of_a_known_csv(tmp_path: Path) -> None:
    result = run(tmp_path, csv_bytes(known_rows()), "samples.csv")
    profile = result.profile
    assert profile is not None
    assert profile["rows"] == 250
    assert profile["skipped_rows"] == 0
    cols = {c["name"]: c for c in profile["columns"]}
    assert [c["name"] for c in profile["columns"]] == [
        "id",
        "site",
        "depth_m",
        "sampled_on",
        "note",
    ]
    assert {n: c["type"] for n, c in cols.items()} == {
        "id": "integer",
        "site": "string",
        "depth_m": "float",
        "sampled_on": "date",
        "note": "string",
    }
    assert cols["id"] | {"distinct_estimate": None} == {
        "name": "id",
        "type": "integer",
        "arrow_type": "int64",
        "null_count": 0,
        "min": 1,
        "max": 250,
        "mean": 125.5,
        "distinct_estimate": None,
    }
    depths = [i * 0.5 for i in range(1, 251) if i % 10]
    assert cols["depth_m"]["null_count"] == 25
    assert cols["depth_m"]["min"] == 0.5 and cols["depth_m"]["max"] == 124.5
    assert cols["depth_m"]["mean"] == pytest.approx(sum(depths) / len(depths))
    assert cols["note"]["null_count"] == 62  # empty cells are nulls
    assert cols["site"]["min"] == "Bogor" and cols["site"]["max"] == "Nairobi"
    assert cols["sampled_on"]["min"] == "2024-01-01" and cols["sampled_on"]["max"] == "2024-01-28"
    for name, true_distinct in {
        "id": 250,
        "site": 5,
        "depth_m": 225,
        "sampled_on": 28,
        "note": 188,
    }.items():
        assert abs(cols[name]["distinct_estimate"] - true_distinct) <= 0.03 * true_distinct, name


def test_distinct_estimate_within_documented_bound() -> None:
    for n in (1_000, 60_000, 300_000):
        sketch = HyperLogLog()
        for start in range(0, n, 50_000):  # batches, as the sink feeds them
            values = [f"sample-{i}" for i in range(start, min(n, start + 50_000))]
            sketch.add_array(pa.array(values + values[:100]))  # duplicates do not count
        assert abs(sketch.estimate() - n) <= 0.03 * n, n
        ints = HyperLogLog()
        ints.add_array(pa.array(range(n)))
        assert abs(ints.estimate() - n) <= 0.03 * n, n


def test_preview_is_the_first_100_rows(tmp_path: Path) -> None:
    rows = known_rows(250)
    result = run(tmp_path, csv_bytes(rows), "samples.csv")
    assert result.preview is not None
    assert len(result.preview) == 100
    assert [r["id"] for r in result.preview] == list(range(1, 101))
    assert result.preview[9] == {
        "id": 10,
        "site": "Bogor",
        "depth_m": None,
        "sampled_on": "2024-01-11",
        "note": "note 10",
    }
    json.dumps(result.preview)  # JSON-ready


def test_normalised_parquet_equals_the_csv(tmp_path: Path) -> None:
    rows = known_rows(250)
    result = run(tmp_path, csv_bytes(rows), "samples.csv")
    assert result.parquet_path == tmp_path / "work" / PARQUET_NAME
    table = pq.read_table(result.parquet_path)
    assert table.column_names == rows[0]
    expected = [
        {
            "id": int(r[0]),  # type: ignore[call-overload]
            "site": r[1],
            "depth_m": float(r[2]) if r[2] != "" else None,  # type: ignore[arg-type]
            "sampled_on": dt.date.fromisoformat(str(r[3])),
            "note": r[4] or None,
        }
        for r in rows[1:]
    ]
    assert table.to_pylist() == expected


def test_types_widen_when_a_later_block_disagrees(tmp_path: Path) -> None:
    rows: list[list[object]] = [["n", "code", "late"]]
    rows += [[i, i, ""] for i in range(20_000)]
    rows += [[1.5, "A-17", 3]]
    limits = Limits(block_size=16 * 1024)
    result = run(tmp_path, csv_bytes(rows), "widen.csv", limits=limits)
    assert result.profile is not None
    kinds = {c["name"]: c["type"] for c in result.profile["columns"]}
    assert kinds == {"n": "float", "code": "string", "late": "integer"}
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.num_rows == 20_001
    assert table.column("code")[-1].as_py() == "A-17"
    assert table.column("n")[-1].as_py() == 1.5


def test_tsv_in_utf16_with_bom(tmp_path: Path) -> None:
    data = "site\tcount\nBogor\t3\nDhaka\t5\n".encode("utf-16")
    result = run(tmp_path, data, "export.txt")
    assert result.format.kind == "tsv"
    assert pq.read_table(result.parquet_path).to_pylist() == [  # type: ignore[arg-type]
        {"site": "Bogor", "count": 3},
        {"site": "Dhaka", "count": 5},
    ]


def test_excel_utf8_csv_with_bom(tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + "site,n\nBogor,1\nBéja,2\n".encode()
    result = run(tmp_path, data, "export.csv")
    assert result.format.encoding == "utf-8-sig"
    assert pq.read_table(result.parquet_path).to_pylist() == [  # type: ignore[arg-type]
        {"site": "Bogor", "n": 1},
        {"site": "Béja", "n": 2},
    ]


def test_shift_jis_csv_is_decoded(tmp_path: Path) -> None:
    rows = [["地点", "観測値", "備考"]]
    rows += [[f"東京都{i}番地", str(i), "晴れのち曇り、風が強い"] for i in range(200)]
    data = csv_bytes(rows).decode().encode("cp932")  # type: ignore[arg-type]
    result = run(tmp_path, data, "観測.csv")
    assert result.format.kind == "csv"
    assert result.format.encoding == "cp932"
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.column_names == ["地点", "観測値", "備考"]
    assert table.column("地点")[5].as_py() == "東京都5番地"


# --- JSON family ----------------------------------------------------------------------------


def test_geojson_features_become_rows(tmp_path: Path) -> None:
    result = run(tmp_path, GEOJSON, "plots.geojson")
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.column_names == ["id", "plot", "area_ha", "tags", "geometry_type", "geometry"]
    first = table.to_pylist()[0]
    assert first["plot"] == "P1" and first["geometry_type"] == "Point"
    assert json.loads(first["geometry"])["coordinates"] == [106.81, -6.2]
    assert first["tags"] == '["a", "b"]'


def test_json_array_widens_types_and_streams_elements(tmp_path: Path) -> None:
    items = [{"a": i, "b": "x"} for i in range(20_000)] + [{"a": 0.5, "c": [1]}, 7]
    data = json.dumps(items).encode()
    limits = Limits(json_max_value_bytes=64 * 1024)  # far below the file: elements stream
    result = run(tmp_path, data, "rows.json", limits=limits)
    assert result.profile is not None and result.profile["rows"] == 20_002
    kinds = {c["name"]: c["type"] for c in result.profile["columns"]}
    assert kinds == {"a": "float", "b": "string", "c": "string", "value": "integer"}


def test_ndjson_with_a_late_type_change_and_a_bad_line(tmp_path: Path) -> None:
    lines = [json.dumps({"t": i, "v": i}) for i in range(5000)]
    lines += ["not json", json.dumps({"t": 5000, "v": "high"})]
    data = ("\n".join(lines) + "\n").encode()
    result = run(tmp_path, data, "log.jsonl", limits=Limits(block_size=16 * 1024))
    assert result.profile is not None
    assert result.profile["rows"] == 5001
    assert result.profile["skipped_rows"] == 1
    assert {c["name"]: c["type"] for c in result.profile["columns"]} == {
        "t": "integer",
        "v": "string",
    }
