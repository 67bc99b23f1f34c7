"""The processing core at its edges: bad input, zip archives, odd names and sources,
bounded memory, and parsing while the download is still running. Detection, profile and
Parquet: test_processing.py.

Every input is generated here, in tmp_path; nothing touches a database or object store.
"""

from __future__ import annotations

import asyncio
import codecs
import hashlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import textwrap
import threading
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from server.models.enums import UploadWarningCode
from tests.fixtures.processing import (
    chunked,
    csv_bytes,
    fails,
    generate_csv,
    known_rows,
    parquet_bytes,
    run,
    zip_bytes,
)
from workers.processing import (
    PARQUET_NAME,
    ErrorCode,
    Limits,
    ProcessingError,
    process_chunks,
    process_file,
    process_stream,
)
from workers.processing.detect import detect_format
from workers.processing.text import sniff_encoding

ROOT = Path(__file__).resolve().parents[2]


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


def test_a_binary_file_that_begins_as_a_bom_does_is_not_text(tmp_path: Path) -> None:
    """One random file in 32,768 begins with FF FE: it was read as UTF-16 text, sometimes
    taken for a CSV, and FAILED as UNREADABLE (seen once in 5,000 random .bin files of
    bench/upload_folder.py). Text after a BOM is still text."""
    rng = random.Random(23)
    for bom in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8, codecs.BOM_UTF32_LE):
        for _ in range(50):
            body = bom + rng.randbytes(10240 - len(bom))
            assert sniff_encoding(body) is None, bom
            assert detect_format(body[:65536], "f001204.bin").kind == "opaque"
    body = codecs.BOM_UTF16_LE + bytes.fromhex("2c00") * 3 + rng.randbytes(4000)
    result = run(tmp_path, body, "f001204.bin")
    assert result.format.kind == "opaque" and result.profile is None
    for name in ("utf-16", "utf-8-sig", "utf-32"):
        text = "station,level\nBangkok,1.5\nAyutthaya,2.25\n".encode(name)
        assert sniff_encoding(text) == name
        assert detect_format(text, "levels.csv").kind == "csv"


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
    codes = [w.code for w in result.warnings]
    assert codes == [UploadWarningCode.RAGGED_ROWS, UploadWarningCode.ENCODING_FALLBACK]
    assert "skipped 2 ragged row(s)" in result.warnings[0].message
    assert "short row,1" in result.warnings[0].message  # the first ones are quoted
    assert "Windows-1252" in result.warnings[1].message
    assert result.profile["warnings"] == [w.as_dict() for w in result.warnings]
    table = pq.read_table(result.parquet_path)  # type: ignore[arg-type]
    assert table.column("city").to_pylist()[-2:] == ["Besançon", "København"]
    assert table.column("name")[0].as_py() == "Müller 0"


def test_a_csv_whose_bytes_are_not_text_is_kept_with_a_warning(tmp_path: Path) -> None:
    """Chosen behaviour: NUL and control bytes in a file named .csv are not guessed at (it
    may be a binary file with a wrong name); it is kept as it is and the user is told."""
    data = b"station,level\nA,\x00\x01\x02\x03\x04\nB,\x05\x06\x07\n"
    result = run(tmp_path, data, "levels.csv")
    assert result.format.kind == "opaque" and result.profile is None
    assert [w.code for w in result.warnings] == [UploadWarningCode.NOT_TEXT]
    assert "named .csv" in result.warnings[0].message
    assert run(tmp_path, data, "levels.bin").warnings == []  # no text name, no surprise


def test_utf16_without_a_bom_is_read_as_text(tmp_path: Path) -> None:
    data = "station,level\nBangkok,1.5\nAyutthaya,2.25\n".encode("utf-16-le")
    result = run(tmp_path, data, "levels.csv")
    assert (result.format.kind, result.format.encoding) == ("csv", "utf-16-le")
    assert result.profile is not None and result.profile["rows"] == 2
    assert result.warnings == []
    assert pq.read_table(result.parquet_path).column("station").to_pylist() == [  # type: ignore[arg-type]
        "Bangkok",
        "Ayutthaya",
    ]


def test_undecodable_shift_jis_bytes_are_replaced_and_flagged(tmp_path: Path) -> None:
    rows = [["地点", "観測値", "備考"]]
    rows += [[f"東京都{i}番地", str(i), "晴れのち曇り、風が強い"] for i in range(2000)]
    body = csv_bytes(rows).decode().encode("cp932")  # type: ignore[arg-type]
    body += b"\x82\xff,2,x\n"  # not a Shift_JIS character, past the sniffed head
    result = run(tmp_path, body, "levels.csv")
    assert result.format.encoding == "cp932"
    assert [w.code for w in result.warnings] == [UploadWarningCode.ENCODING_FALLBACK]
    assert "U+FFFD" in result.warnings[0].message


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


def _measure(tmp_path: Path, size: int) -> dict[str, int]:
    src = tmp_path / f"gen-{size}.csv"
    generate_csv(src, size)
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
