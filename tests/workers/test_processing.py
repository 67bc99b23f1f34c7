"""The processing core: detection, checks, profile, normalised Parquet, preview, bad input.

Every input is generated here, in tmp_path; nothing touches a database or object store.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workers.processing import (
    PARQUET_NAME,
    ErrorCode,
    Limits,
    ProcessingError,
    ProcessingResult,
    detect_format,
    process_chunks,
    process_file,
    process_stream,
)
from workers.processing.sketch import HyperLogLog

ROOT = Path(__file__).resolve().parents[2]


def chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def run(
    tmp_path: Path,
    data: bytes,
    filename: str,
    *,
    declared_size: int | None = -1,
    declared_sha256: str | None = "auto",
    limits: Limits | None = None,
) -> ProcessingResult:
    return process_chunks(
        chunked(data),
        filename=filename,
        declared_size=len(data) if declared_size == -1 else declared_size,
        declared_sha256=hashlib.sha256(data).hexdigest()
        if declared_sha256 == "auto"
        else declared_sha256,
        workdir=tmp_path / "work",
        limits=limits,
    )


def fails(code: ErrorCode, *args: object, **kwargs: object) -> ProcessingError:
    with pytest.raises(ProcessingError) as info:
        run(*args, **kwargs)  # type: ignore[arg-type]
    assert info.value.code == code, info.value
    return info.value


# --- generated samples ------------------------------------------------------------------


def csv_bytes(rows: list[list[object]], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def parquet_bytes() -> bytes:
    table = pa.table({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [0.5, 1.5, None]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


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


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/readme.txt", "hello " * 100)
        zf.writestr("data/values.csv", "a,b\n1,2\n")
    return buf.getvalue()


PNG = (
    b"\x89PNG\r\n\x1a\n"
    + struct.pack(">I", 13)
    + b"IHDR"
    + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    + b"\0" * 4
)
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
HDF5 = b"\x89HDF\r\n\x1a\n" + bytes(504)
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


SAMPLES: dict[str, tuple[str, bytes, str, bool]] = {
    # name: (filename, bytes, expected kind, tabular)
    "csv": ("plots.csv", csv_bytes([["a", "b"], [1, "x"], [2, "y"]]), "csv", True),
    "tsv": ("plots.tsv", csv_bytes([["a", "b"], [1, "x"], [2, "y"]], "\t"), "tsv", True),
    "ndjson": ("log.ndjson", b'{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n', "ndjson", True),
    "json-array": ("rows.json", b'[{"a": 1}, {"a": 2, "b": true}]', "json", True),
    "json-object": ("meta.json", b'{"title": "x", "n": 1}', "json", False),
    "geojson": ("plots.geojson", GEOJSON, "geojson", True),
    "parquet": ("t.parquet", parquet_bytes(), "parquet", True),
    "xlsx": ("book.xlsx", xlsx_bytes(), "xlsx", False),
    "zip": ("bundle.zip", zip_bytes(), "zip", False),
    "png": ("photo.png", PNG, "png", False),
    "jpeg": ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64), "jpeg", False),
    "gif": ("a.gif", b"GIF89a" + bytes(32), "gif", False),
    "tiff": ("a.tif", b"II*\x00" + bytes(32), "tiff", False),
    "webp": ("a.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32), "webp", False),
    "pdf": ("report.pdf", PDF, "pdf", False),
    "hdf5": ("model.h5", HDF5, "hdf5", False),
    "netcdf4": ("sst.nc", HDF5, "netcdf", False),
    "netcdf3": ("sst.nc", b"CDF\x01" + bytes(64), "netcdf", False),
    "gzip": ("x.csv.gz", gzip.compress(b"a,b\n1,2\n"), "gzip", False),
    "xls": ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504), "xls", False),
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
    assert (result.profile is not None) is tabular
    assert (result.parquet_path is not None) is tabular


def test_detection_from_head_alone() -> None:
    assert detect_format(b"PAR1\x15\x04", "x.bin").kind == "parquet"
    assert detect_format(b"a;b;c\n1;2;3\n4;5;6\n", "x").delimiter == ";"
    assert detect_format(b"single\ncolumn\n", "values.csv").kind == "csv"
    assert detect_format(b"single\ncolumn\n", "values.txt").kind == "text"
    assert detect_format(xlsx_bytes()[:4096], "book.xlsx").kind == "xlsx"
    assert detect_format(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "x.doc").kind == "ole2"
    assert detect_format(b"", "empty.csv").kind == "opaque"


def test_opaque_formats_are_never_spooled(tmp_path: Path) -> None:
    result = run(tmp_path, PDF * 5000, "report.pdf")
    assert result.format.kind == "pdf"
    assert not any((tmp_path / "work").glob("*")) if (tmp_path / "work").exists() else True


# --- profile, Parquet, preview --------------------------------------------------------------

SITES = ["Bogor", "Jakarta", "Lima", "Nairobi", "Hanoi"]


def known_rows(n: int = 250) -> list[list[object]]:
    rows: list[list[object]] = [["id", "site", "depth_m", "sampled_on", "note"]]
    for i in range(1, n + 1):
        depth = "" if i % 10 == 0 else f"{i * 0.5:.1f}"
        note = "" if i % 4 == 0 else f"note {i}"
        rows.append([i, SITES[i % 5], depth, f"2024-01-{1 + i % 28:02d}", note])
    return rows


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


# --- bad input ------------------------------------------------------------------------------


def test_checksum_mismatch(tmp_path: Path) -> None:
    data = csv_bytes(known_rows(10))
    err = fails(ErrorCode.CHECKSUM_MISMATCH, tmp_path, data, "a.csv", declared_sha256="0" * 64)
    assert hashlib.sha256(data).hexdigest() in err.message
    assert not (tmp_path / "work" / PARQUET_NAME).exists()  # nothing derived from bad bytes
    assert not list((tmp_path / "work").glob("*.spool"))


def test_truncated_upload_is_a_size_mismatch(tmp_path: Path) -> None:
    data = csv_bytes(known_rows(100))
    fails(ErrorCode.SIZE_MISMATCH, tmp_path, data[:-10], "a.csv", declared_size=len(data))


def test_overlong_upload_stops_reading_at_the_declared_size(tmp_path: Path) -> None:
    consumed = 0

    def endless() -> Iterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 1
            yield b"x" * 1024

    with pytest.raises(ProcessingError) as info:
        process_chunks(
            endless(),
            filename="a.bin",
            declared_size=10_000,
            declared_sha256=None,
            workdir=tmp_path,
        )
    assert info.value.code == ErrorCode.SIZE_MISMATCH
    assert consumed == 10


def test_empty_file(tmp_path: Path) -> None:
    fails(ErrorCode.EMPTY_FILE, tmp_path, b"", "empty.csv")


def test_too_large(tmp_path: Path) -> None:
    limits = Limits(max_bytes=1000)
    fails(ErrorCode.TOO_LARGE, tmp_path, b"x" * 5000, "big.bin", declared_size=None, limits=limits)
    fails(ErrorCode.TOO_LARGE, tmp_path, b"x", "big.bin", declared_size=5000, limits=limits)


def test_declared_sha256_is_validated(tmp_path: Path) -> None:
    fails(ErrorCode.CHECKSUM_MISMATCH, tmp_path, b"abc", "a.txt", declared_sha256="not-a-hash")
    data = b"abc"
    upper = hashlib.sha256(data).hexdigest().upper()
    assert run(tmp_path, data, "a.txt", declared_sha256=f" {upper} ").sha256 == upper.lower()


def test_truncated_parquet_is_unreadable(tmp_path: Path) -> None:
    data = parquet_bytes()
    fails(ErrorCode.UNREADABLE, tmp_path, data[: len(data) // 2], "t.parquet")
    fails(ErrorCode.UNREADABLE, tmp_path, data[:-12] + b"\0" * 8 + b"PAR1", "t.parquet")


def test_mixed_encodings_and_ragged_rows_are_kept_and_flagged(tmp_path: Path) -> None:
    lines = ["name,city,value"]
    lines += [f"Müller {i},Zürich,{i}" for i in range(30)]
    body = "\n".join(lines).encode("utf-8") + b"\n"
    body += "Müller 30,Besançon,30\n".encode("latin-1")  # a Latin-1 line among UTF-8
    body += b"short row,1\n"  # ragged: too few fields
    body += b"too,many,fields,here\n"  # ragged: too many
    body += "Øre 31,København,31\n".encode()
    result = run(tmp_path, body, "mixed.csv")
    assert result.profile is not None
    assert result.profile["rows"] == 32
    assert result.profile["skipped_rows"] == 2
    assert result.profile["decoding_fallbacks"] == 2  # the ç and the ü
    assert any("ragged" in w for w in result.warnings)
    assert any("Windows-1252" in w for w in result.warnings)
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.column("city").to_pylist()[-2:] == ["Besançon", "København"]
    assert table.column("name")[0].as_py() == "Müller 0"


def test_latin1_bytes_past_the_first_block_restart_with_fallback(tmp_path: Path) -> None:
    rows = [["name", "n"]] + [[f"site {i}", i] for i in range(5000)]
    data = csv_bytes(rows) + "Besançon,5000\n".encode("latin-1")
    result = run(tmp_path, data, "late.csv", limits=Limits(block_size=16 * 1024))
    assert result.profile is not None and result.profile["rows"] == 5001
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.column("name")[-1].as_py() == "Besançon"


def test_latin1_file_is_decoded(tmp_path: Path) -> None:
    data = "ville;région\nBesançon;Franche-Comté\nNîmes;Occitanie\n".encode("latin-1")
    result = run(tmp_path, data, "villes.csv")
    assert result.format.delimiter == ";"
    assert pq.read_table(result.parquet_path).to_pylist()[0] == {  # type: ignore[arg-type]
        "ville": "Besançon",
        "région": "Franche-Comté",
    }


def zeros_zip(size: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.bin", "w") as member:
            block = bytes(1024 * 1024)
            for _ in range(size // len(block)):
                member.write(block)
    return buf.getvalue()


def test_zip_bomb_is_refused_from_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = zeros_zip(100 * 1024 * 1024)  # 100 MiB of zeros, about 100 KiB compressed
    assert len(data) < 1024 * 1024

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("a member was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", never)
    err = fails(ErrorCode.ZIP_BOMB, tmp_path, data, "innocent.zip")
    assert "ratio" in err.message


def _patch_central_size(data: bytes, size: int) -> bytes:
    at = data.rindex(b"PK\x01\x02")
    return data[: at + 24] + struct.pack("<I", size) + data[at + 28 :]


def test_zip_declaring_huge_sizes_is_a_bomb(tmp_path: Path) -> None:
    data = _patch_central_size(zip_bytes(), 0xFFFF0000)
    fails(ErrorCode.ZIP_BOMB, tmp_path, data, "a.zip", limits=Limits(zip_max_uncompressed=2**30))


def test_zip_understating_sizes_is_never_decompressed_past_them(tmp_path: Path) -> None:
    data = _patch_central_size(zeros_zip(8 * 1024 * 1024), 1000)
    fails(ErrorCode.UNREADABLE, tmp_path, data, "a.zip")


def test_zip_listing(tmp_path: Path) -> None:
    result = run(tmp_path, zip_bytes(), "bundle.zip")
    assert result.archive is not None
    assert result.archive["members"] == 2
    assert result.archive["verified"] is True
    assert {e["name"] for e in result.archive["entries"]} == {"data/readme.txt", "data/values.csv"}


def test_corrupt_zip_is_unreadable(tmp_path: Path) -> None:
    data = zip_bytes()
    fails(ErrorCode.UNREADABLE, tmp_path, data[:-30], "broken.zip")


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


# --- names, sources -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename",
    [
        "データ 2024 (最終).csv",
        "résumé.CSV",
        "no_extension",
        "../../etc/passwd.csv",
        "a/b\\c.csv",
        "x\ny.csv",
        "",
    ],
)
def test_unicode_and_odd_filenames(tmp_path: Path, filename: str) -> None:
    result = run(tmp_path, csv_bytes(known_rows(5)), filename)
    assert result.format.kind == "csv"
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(["work", PARQUET_NAME])


def test_local_file_is_processed_in_place(tmp_path: Path) -> None:
    src = tmp_path / "samples.csv"
    src.write_bytes(csv_bytes(known_rows(20)))
    result = process_file(src, declared_size=None, declared_sha256=None, workdir=tmp_path / "w")
    assert result.profile is not None and result.profile["rows"] == 20
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [PARQUET_NAME]


async def test_async_stream(tmp_path: Path) -> None:
    data = csv_bytes(known_rows(50)) + b"".join(
        csv_bytes([[i, "Lima", i, "2024-01-01", "x"]]) for i in range(20_000)
    )

    async def source() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 300_000):
            yield data[i : i + 300_000]

    result = await process_stream(
        source(),
        filename="s.csv",
        declared_size=len(data),
        declared_sha256=hashlib.sha256(data).hexdigest(),
        workdir=tmp_path,
    )
    assert result.profile is not None and result.profile["rows"] == 20_050


async def test_a_cancelled_stream_leaves_its_source_closable(tmp_path: Path) -> None:
    """A worker stopping cancels the job mid-download; the job then closes the object reader.
    The read-ahead fetch must be over by then: closing an async generator that is still
    running raises RuntimeError, which replaced the cancellation (the upload was then
    neither handed back nor failed; seen in CI as an upload stuck in PROCESSING)."""
    fetching = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield b"station,level\n"
        while True:
            fetching.set()
            await asyncio.sleep(0.005)
            yield b"ST-1,1.5\n" * 40_000  # large: hashed in a thread

    chunks = source()
    for attempt in range(20):
        fetching.clear()
        job = asyncio.create_task(
            process_stream(
                chunks,
                filename="s.csv",
                declared_size=None,
                declared_sha256=None,
                workdir=tmp_path,
            )
        )
        await fetching.wait()
        await asyncio.sleep(0.01 * (attempt % 4))  # cancel at different moments
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        await chunks.aclose()  # RuntimeError here before the fix
        chunks = source()
    assert not _parse_threads()


# --- bounded memory -------------------------------------------------------------------------

_MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from workers.processing import process_chunks

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    path = Path(sys.argv[1])
    def chunks():
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk
    import pyarrow, numpy, pyarrow.csv, pyarrow.parquet, charset_normalizer  # noqa
    before = hwm()
    result = process_chunks(chunks(), filename=path.name, declared_size=None,
                            declared_sha256=None, workdir=Path(sys.argv[2]))
    print(json.dumps({"before": before, "peak": hwm(), "rows": result.profile["rows"]}))
    """
)


def _generate_csv(path: Path, target: int) -> None:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    n = 100_000
    base = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "site": pa.array([SITES[i % 5] for i in range(n)]),
            "value": pa.array([(i * 7919 % 10007) / 7.0 for i in range(n)]),
            "name": pa.array([f"sample-{i * 2654435761 % 10**9}" for i in range(n)]),
        }
    )
    written = 0
    with pacsv.CSVWriter(path, base.schema) as writer:
        offset = 0
        while written < target:
            batch = base.set_column(0, "id", pc.add(base.column("id"), offset))
            writer.write_table(batch)
            offset += n
            written = path.stat().st_size


def _measure(tmp_path: Path, size: int) -> dict[str, int]:
    src = tmp_path / f"gen-{size}.csv"
    _generate_csv(src, size)
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(src), str(tmp_path / f"work-{size}")],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    src.unlink()
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_peak_memory_is_bounded_and_flat_in_file_size(tmp_path: Path) -> None:
    small = _measure(tmp_path, 20 * 1024 * 1024)
    large = _measure(tmp_path, 200 * 1024 * 1024)
    mib = 1024 * 1024
    growth_small = (small["peak"] - small["before"]) / mib
    growth_large = (large["peak"] - large["before"]) / mib
    assert large["rows"] > 5 * small["rows"]
    assert large["peak"] / mib < 256, (small, large)
    assert growth_large < 200, growth_large
    assert growth_large - growth_small < 48, (growth_small, growth_large)


# --- parsing while the download is still running ------------------------------------------


def _parse_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "parse-while-download"]


def test_csv_is_parsed_while_its_bytes_still_arrive(tmp_path: Path) -> None:
    """The parse starts before the last chunk is written, follows the spool through a type
    restart, and gives exactly what processing the finished file gives."""
    rows: list[list[object]] = [["n", "code", "late"]]
    rows += [[i, i, ""] for i in range(40_000)]
    rows += [[1.5, "A-17", 3]]
    data = csv_bytes(rows)
    seen_running: list[bool] = []

    def slow_chunks() -> Iterator[bytes]:
        pieces = list(chunked(data, 100_000))
        for i, piece in enumerate(pieces):
            if i == len(pieces) - 1:
                seen_running.append(bool(_parse_threads()))
            yield piece

    limits = Limits(block_size=16 * 1024)
    streamed = process_chunks(
        slow_chunks(),
        filename="late.csv",
        declared_size=len(data),
        declared_sha256=hashlib.sha256(data).hexdigest(),
        workdir=tmp_path / "stream",
        limits=limits,
    )
    src = tmp_path / "late.csv"
    src.write_bytes(data)
    local = process_file(
        src, declared_size=None, declared_sha256=None, workdir=tmp_path / "local", limits=limits
    )
    assert seen_running == [True]
    assert streamed.profile == local.profile
    assert streamed.preview == local.preview
    assert streamed.parquet_path is not None and local.parquet_path is not None
    assert pq.read_table(streamed.parquet_path).equals(pq.read_table(local.parquet_path))
    assert not _parse_threads()


@pytest.mark.parametrize("declared", ["sha256", "size"])
def test_a_failed_check_stops_the_early_parse_and_drops_its_output(
    tmp_path: Path, declared: str
) -> None:
    data = csv_bytes(known_rows(50)) + b"".join(
        csv_bytes([[i, "Lima", i, "2024-01-01", "x"]]) for i in range(30_000)
    )
    kwargs: dict[str, object] = (
        {"declared_sha256": "0" * 64} if declared == "sha256" else {"declared_size": len(data) + 1}
    )
    code = ErrorCode.CHECKSUM_MISMATCH if declared == "sha256" else ErrorCode.SIZE_MISMATCH
    fails(code, tmp_path, data, "big.csv", **kwargs)
    assert not _parse_threads()
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == []


def test_a_download_that_breaks_stops_the_early_parse(tmp_path: Path) -> None:
    data = csv_bytes(known_rows(50)) * 400

    def broken() -> Iterator[bytes]:
        yield data[: len(data) // 2]
        assert _parse_threads()  # the parse is waiting for more bytes
        raise ConnectionResetError("S3 went away")

    with pytest.raises(ConnectionResetError):
        process_chunks(
            broken(),
            filename="broken.csv",
            declared_size=len(data),
            declared_sha256=None,
            workdir=tmp_path / "work",
        )
    assert not _parse_threads()
    assert not list((tmp_path / "work").glob("*.spool"))


@pytest.mark.parametrize(
    "body",
    [b'{"a": [1, 2, ', b'{"a": 1} trailing', b'{"a": 1,}', b'{"a": {"b": [1, 2}}', b'{"a" 1}'],
)
def test_a_broken_json_document_is_unreadable(tmp_path: Path, body: bytes) -> None:
    """A top-level object is no table, but it is still checked to its last byte."""
    fails(ErrorCode.UNREADABLE, tmp_path, body, "doc.json")


def test_a_json_document_is_walked_not_loaded(tmp_path: Path) -> None:
    """Nested objects are walked member by member: a document far larger than the value
    cap is fine as long as each leaf and array element fits under it."""
    members = ",".join(f'"k{i}": {{"values": [{i}, {i + 1}], "note": "x"}}' for i in range(5000))
    body = f'{{"meta": {{"site": "Lima"}}, "data": {{{members}}}}}'.encode()
    result = run(tmp_path, body, "doc.json", limits=Limits(json_max_value_bytes=4096))
    assert result.format.kind == "json" and result.profile is None
