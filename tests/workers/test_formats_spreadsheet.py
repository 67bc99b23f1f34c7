"""Spreadsheets (workers/processing/formats/spreadsheet.py, in the sandbox): every sheet a
table with its own profile, preview and Parquet. Real files: python-calamine's own samples
(tests/workers/data/README.md says where each comes from)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pyarrow.parquet as pq

from server.models.enums import UploadWarningCode
from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode, detect_format

DATA = Path(__file__).parent / "data"


def test_every_sheet_of_a_workbook_is_a_table(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "table-multiple.xlsx").read_bytes(), "fruit.xlsx")
    assert result.format.kind == "xlsx"
    assert result.profile is not None and result.profile["kind"] == "workbook"
    sheets = result.profile["sheets"]
    assert [(s["name"], s["parquet"], s["preview"]) for s in sheets] == [
        ("Sheet1", "parquet", "preview"),
        ("Sheet2", "parquet.1", "preview.1"),
        ("Sheet3", "parquet.2", "preview.2"),
    ]
    first = sheets[0]["profile"]
    assert first["rows"] == 4
    assert [(c["name"], c["type"]) for c in first["columns"]] == [
        ("Item", "integer"),
        ("Type", "string"),
        ("Quantity", "integer"),
    ]
    assert result.preview is not None and result.preview[0] == {
        "Item": 1,
        "Type": "Apple",
        "Quantity": 50,
    }
    assert result.parquet_path is not None
    assert pq.read_table(result.parquet_path).column("Type").to_pylist() == [
        "Apple",
        "Banana",
        "Orange",
        "Pear",
    ]
    extra = {kind: data for kind, _, data in result.extra_artifacts}
    assert sorted(extra) == ["parquet.1", "parquet.2", "preview.1", "preview.2"]
    prices = pq.read_table(extra["parquet.1"])  # type: ignore[arg-type]
    assert prices.column_names == ["Item", "Price"]
    assert prices.column("Price").to_pylist()[:3] == [0.85, 0.75, 0.55]
    assert b'"Price": 0.85' in extra["preview.1"]  # type: ignore[operator]
    # Sheet3 holds two tables one under the other: one table, its "Item" column text
    third = sheets[2]["profile"]
    assert third["rows"] == 9 and third["columns"][0]["type"] == "string"
    assert result.warnings == []


def test_an_ods_file_with_every_cell_type(tmp_path: Path) -> None:
    body = (DATA / "base.ods").read_bytes()
    assert detect_format(body[:4096], "no-extension").kind == "ods"  # ODF's "mimetype" first
    result = run(tmp_path, body, "base.ods")
    assert (result.format.kind, result.format.media_type) == (
        "ods",
        "application/vnd.oasis.opendocument.spreadsheet",
    )
    assert result.profile is not None
    sheet = result.profile["sheets"][0]
    assert sheet["name"] == "Sheet1" and sheet["profile"]["rows"] == 0
    names = [c["name"] for c in sheet["profile"]["columns"]]
    assert names[:6] == ["String", "1", "1.1", "True", "False", "2010-10-10"]
    skipped = [(s["name"], s["reason"]) for s in result.profile["skipped_sheets"]]
    assert skipped == [("Sheet2", "it has no cells"), ("Merged Cells", "it has no cells")]
    assert [w.code for w in result.warnings] == [UploadWarningCode.SHEET_SKIPPED] * 2


def test_cell_types_become_column_types() -> None:
    """base.xlsx's row of every cell type, as calamine reads it, as column types."""
    from python_calamine import CalamineWorkbook

    from workers.processing.formats.spreadsheet import _ColumnType

    sheet = CalamineWorkbook.from_path(str(DATA / "base.xlsx")).get_sheet_by_name("Sheet1")
    row = [cells for cells in sheet.iter_rows() if any(cells)][0]
    kinds = []
    for value in row:
        column = _ColumnType()
        column.see(value)
        kinds.append(str(column.arrow()))
    assert kinds == [
        "string",
        "int64",
        "double",
        "bool",
        "bool",
        "date32[day]",
        "timestamp[us]",
        "time64[us]",
        "duration[us]",
        "duration[us]",
    ]


def test_chart_and_empty_sheets_are_skipped_with_a_warning(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "any_sheets.xlsx").read_bytes(), "sheets.xlsx")
    assert result.profile is not None
    assert [s["name"] for s in result.profile["sheets"]] == ["Visible"]
    reasons = {s["name"]: s["reason"] for s in result.profile["skipped_sheets"]}
    assert reasons == {
        "Hidden": "it has no cells",
        "VeryHidden": "it has no cells",
        "Chart": "a ChartSheet holds no table",
    }
    assert [w.code for w in result.warnings] == [UploadWarningCode.SHEET_SKIPPED] * 3
    assert "'Chart'" in result.warnings[2].message


def test_a_password_protected_workbook_is_encrypted(tmp_path: Path) -> None:
    error = fails(ErrorCode.ENCRYPTED, tmp_path, (DATA / "password.xlsx").read_bytes(), "p.xlsx")
    assert "password" in error.message


def test_an_xlsx_zip_bomb_is_refused_before_any_sheet_is_read(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            for _ in range(64):  # 64 MiB of spaces, about 64 KiB compressed
                member.write(b" " * (1024 * 1024))
    fails(ErrorCode.ZIP_BOMB, tmp_path, buffer.getvalue(), "bomb.xlsx")


def test_corrupt_workbooks_are_unreadable(tmp_path: Path) -> None:
    real = (DATA / "table-multiple.xlsx").read_bytes()
    fails(ErrorCode.UNREADABLE, tmp_path, real[: len(real) // 2], "cut.xlsx")  # truncated
    with zipfile.ZipFile(io.BytesIO(real)) as source:
        members = {name: source.read(name) for name in source.namelist()}
    members["xl/workbook.xml"] = b"<workbook><sheets><sheet name='Sheet1' r:id="  # cut XML
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    error = fails(ErrorCode.UNREADABLE, tmp_path, buffer.getvalue(), "broken.xlsx")
    assert "corrupt spreadsheet" in error.message


def test_dates_among_datetimes_and_mixed_columns(tmp_path: Path) -> None:
    from workers.processing.formats.spreadsheet import _ColumnType

    column = _ColumnType()
    for value in (dt.date(2024, 1, 2), dt.datetime(2024, 1, 3, 4, 5), ""):
        column.see(value)
    assert str(column.arrow()) == "timestamp[us]"
    assert column.convert(dt.date(2024, 1, 2)) == dt.datetime(2024, 1, 2)
    mixed = _ColumnType()
    for value in (1.0, "n/a", 2.5):
        mixed.see(value)
    assert str(mixed.arrow()) == "string" and mixed.convert(1.0) == "1"
