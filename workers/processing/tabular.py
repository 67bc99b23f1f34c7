"""Tabular inputs to the sink: CSV/TSV and NDJSON through pyarrow's block-wise streaming
readers, Parquet row group by row group, JSON arrays and GeoJSON through a bounded
streaming decoder (`jsonstream`).

CSV behaviour (what a researcher would expect of a spreadsheet export):
- Types are inferred from the first block (`Limits.block_size`). When a later block
  disagrees, the read restarts with that column widened (null -> int/float/string,
  int -> float, else string), at most `Limits.max_type_restarts` times, then every
  column is read as text.
- Empty cells are nulls (also in text columns).
- Ragged rows (more or fewer fields than the header) are skipped, counted in
  `profile["skipped_rows"]`, and the first few are quoted in warnings; the raw upload keeps
  them. Quoted fields may span lines.
- Bytes that are not valid in the detected encoding are decoded as described in `text`.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from server.models.enums import UploadWarningCode

from . import jsonstream
from .model import DetectedFormat, ErrorCode, Limits, Notice, ProcessingError
from .profile import TableSink
from .spool import Spool
from .text import MIXED, TranscodingReader, decode_head

_COLUMN_ERROR = re.compile(
    r"In CSV column #(\d+): .*conversion error to (\w+): invalid value '(.*)'"
)
_SAMPLES = 5


class _RaggedRows:
    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, row: Any) -> str:
        with self._lock:
            self.count += 1
            if len(self.samples) < _SAMPLES:
                self.samples.append(
                    f"expected {row.expected_columns} fields, got {row.actual_columns}: "
                    f"{row.text[:120]!r}"
                )
        return "skip"


class _Restart(Exception):
    pass


def header_names(head: bytes, fmt: DetectedFormat) -> list[str]:
    text = decode_head(head, fmt.encoding or "utf-8").lstrip("\ufeff")
    first = next(csv.reader(io.StringIO(text), delimiter=fmt.delimiter or ","), [])
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(first, start=1):
        base = raw.strip() or f"column_{i}"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}_{n}"
        seen.add(name)
        names.append(name)
    return names


def process_csv(
    path: Path | Spool, head: bytes, fmt: DetectedFormat, out: Path, limits: Limits
) -> tuple[TableSink, dict[str, Any]]:
    """A CSV/TSV file, or a spool still being written (read as it grows)."""
    names = header_names(head, fmt)
    if not names:
        raise ProcessingError(ErrorCode.UNREADABLE, "no header row")
    if len(names) > limits.max_columns:
        raise ProcessingError(ErrorCode.TOO_LARGE, f"{len(names)} columns")
    overrides: dict[str, pa.DataType] = {}
    encoding = fmt.encoding or "utf-8"
    for _ in range(limits.max_type_restarts + 2):
        try:
            return _read_csv_once(path, names, fmt, encoding, overrides, out, limits)
        except _Restart as restart:
            encoding, change = restart.args
            if change is None:
                overrides = {n: pa.string() for n in names}
            else:
                overrides.update(change)
    raise ProcessingError(ErrorCode.UNREADABLE, "column types never settled")


def _open_source(path: Path | Spool, encoding: str) -> tuple[BinaryIO, TranscodingReader | None]:
    if isinstance(path, Spool):
        raw: BinaryIO = path.reader()  # type: ignore[assignment]
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if encoding in ("utf-8", "utf-8-sig", "ascii"):  # Arrow skips a UTF-8 BOM itself
        return raw, None
    reader = TranscodingReader(raw, encoding)
    return reader, reader  # type: ignore[return-value]


def _read_csv_once(
    path: Path | Spool,
    names: list[str],
    fmt: DetectedFormat,
    encoding: str,
    overrides: dict[str, pa.DataType],
    out: Path,
    limits: Limits,
) -> tuple[TableSink, dict[str, Any]]:
    ragged = _RaggedRows()
    source, transcoder = _open_source(path, encoding)
    sink: TableSink | None = None
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(
                block_size=limits.block_size, column_names=names, skip_rows=1
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.delimiter or ",",
                newlines_in_values=True,
                invalid_row_handler=ragged,
            ),
            convert_options=pacsv.ConvertOptions(column_types=overrides, strings_can_be_null=True),
        )
        if encoding != MIXED and any(pa.types.is_binary(f.type) for f in reader.schema):
            raise _Restart(MIXED, {})
        sink = TableSink(reader.schema, out, limits)
        for batch in reader:
            sink.add(batch)
        sink.close()
    except pa.ArrowInvalid as exc:
        if sink is not None:
            sink.abort()
        raise _restart_for(exc, names, encoding, overrides, limits) from exc
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        source.close()
    extra: dict[str, Any] = {"encoding": encoding, "delimiter": fmt.delimiter or ","}
    extra["skipped_rows"] = ragged.count
    warnings: list[Notice] = []
    if ragged.count:
        samples = "; ".join(ragged.samples)
        message = f"skipped {ragged.count} ragged row(s) (first: {samples})"
        warnings.append(Notice(UploadWarningCode.RAGGED_ROWS, message))
    if transcoder is not None and transcoder.replaced:
        extra["decoding_fallbacks"] = transcoder.replaced
        if encoding == MIXED:
            how = "not valid UTF-8, decoded as Windows-1252"
        else:
            how = f"not valid {encoding}, replaced by U+FFFD"
        message = f"{transcoder.replaced} byte sequence(s) {how}"
        warnings.append(Notice(UploadWarningCode.ENCODING_FALLBACK, message))
    extra["warnings"] = warnings
    return sink, extra


def _restart_for(
    exc: pa.ArrowInvalid,
    names: list[str],
    encoding: str,
    overrides: dict[str, pa.DataType],
    limits: Limits,
) -> Exception:
    message = str(exc)
    if "invalid UTF8" in message and encoding != MIXED:
        return _Restart(MIXED, {})
    match = _COLUMN_ERROR.search(message)
    if match is None:
        return ProcessingError(ErrorCode.UNREADABLE, f"CSV parse error: {message[:300]}")
    if len(overrides) >= limits.max_type_restarts:
        return _Restart(encoding, None)
    name = names[int(match.group(1))]
    return _Restart(encoding, {name: widen(match.group(2), match.group(3))})


def widen(current: str, value: str) -> pa.DataType:
    """The type a column moves to when `value` does not fit `current`."""
    number = _number_kind(value)
    if current == "null" and number is not None:
        return number
    if current.startswith(("int", "uint")) and number is not None:
        return pa.float64()
    return pa.string()


def _number_kind(value: str) -> pa.DataType | None:
    try:
        int(value)
        return pa.int64()
    except ValueError:
        pass
    try:
        float(value)
        return pa.float64()
    except ValueError:
        return None


def process_parquet(path: Path, out: Path, limits: Limits) -> tuple[TableSink, dict[str, Any]]:
    sink: TableSink | None = None
    try:
        pf = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
        sink = TableSink(pf.schema_arrow, out, limits)
        for batch in pf.iter_batches(batch_size=65536):
            sink.add(batch)
        sink.close()
    except (pa.ArrowException, OSError) as exc:
        if sink is not None:
            sink.abort()
        raise ProcessingError(ErrorCode.UNREADABLE, f"corrupt Parquet: {exc}") from exc
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    return sink, {"warnings": []}


def process_json(
    path: Path, fmt: DetectedFormat, size: int, out: Path, limits: Limits
) -> tuple[TableSink, dict[str, Any]] | None:
    """NDJSON through pyarrow first; JSON arrays, GeoJSON and NDJSON that pyarrow refuses
    (changing types, bad encoding) through `jsonstream`, up to `Limits.json_max_bytes`.
    None when the file is above that cap (kept, not profiled)."""
    if fmt.kind == "ndjson" and fmt.encoding in ("utf-8", "ascii"):
        try:
            return _ndjson_arrow(path, out, limits)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
    if size > limits.json_max_bytes:
        return None
    return jsonstream.to_sink(path, fmt, out, limits)


def _ndjson_arrow(path: Path, out: Path, limits: Limits) -> tuple[TableSink, dict[str, Any]]:
    sink: TableSink | None = None
    try:
        options = pajson.ReadOptions(block_size=limits.block_size)
        reader = pajson.open_json(path, read_options=options)
        schema = reader.schema
        if any(_nested(f.type) for f in schema):
            raise pa.ArrowInvalid("nested values: flattened by the streaming decoder instead")
        sink = TableSink(schema, out, limits)
        for batch in reader:
            sink.add(batch)
        sink.close()
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    return sink, {"encoding": "utf-8", "warnings": []}


def _nested(t: pa.DataType) -> bool:
    return bool(pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_map(t))
