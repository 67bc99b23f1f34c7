"""Bounded streaming decoding of JSON arrays, GeoJSON and NDJSON into rows.

No whole-file `json.load`: the text is read 1 MiB at a time and top-level array elements
are decoded one by one with `json.JSONDecoder.raw_decode`, so memory holds one element
(at most `Limits.json_max_value_bytes`) plus one batch of rows. Two passes over the local
copy: the first settles the column types (null < bool, null < int < float, anything else
text; objects and arrays become JSON text), the second writes the batches.
GeoJSON features become rows: `id`, the `properties`, `geometry_type` and `geometry`
(GeoJSON text), and the profile gets the extent of every position as its coverage
(`coverage.bbox`, see `Extent`); GDAL then reads the file as a vector layer in the sandbox
(native.add_layer: the layer's fields and a GeoParquet). Top-level scalars of an array
become a column named `value`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import pyarrow as pa

from server.datasets.coverage import Box, union_boxes
from server.models.enums import UploadWarningCode

from .model import DetectedFormat, ErrorCode, Limits, Notice, ProcessingError
from .profile import TableSink
from .text import error_handler, fallbacks, python_encoding, reset_fallbacks

_WS = re.compile(r"[ \t\r\n\ufeff]*")
_DECODER = json.JSONDecoder()
_INT64 = (-(2**63), 2**63 - 1)
_BATCH_ROWS = 8192
_ARROW = {
    "null": pa.null(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "string": pa.string(),
}


def _unreadable(message: str) -> ProcessingError:
    return ProcessingError(ErrorCode.UNREADABLE, f"invalid JSON: {message}")


class Scanner:
    def __init__(self, stream: TextIO, limits: Limits) -> None:
        self.stream = stream
        self.limits = limits
        self.buf = ""
        self.pos = 0
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        data = self.stream.read(1 << 20)
        if not data:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + data
        self.pos = 0
        return True

    def peek(self) -> str:
        while True:
            match = _WS.match(self.buf, self.pos)
            self.pos = match.end() if match else self.pos
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise _unreadable(f"expected {char!r} near character {self.pos}")
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                obj, end = _DECODER.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return obj
            except json.JSONDecodeError as exc:
                if self.eof:
                    raise _unreadable(str(exc)) from exc
            if len(self.buf) - self.pos > self.limits.json_max_value_bytes:
                raise ProcessingError(
                    ErrorCode.TOO_LARGE,
                    f"a single JSON value is over {self.limits.json_max_value_bytes} bytes",
                )
            self._more()

    def items(self) -> Iterator[Any]:
        self.expect("[")
        if self.peek() == "]":
            self.pos += 1
            return
        while True:
            yield self.value()
            char = self.peek()
            self.pos += 1
            if char == "]":
                return
            if char != ",":
                raise _unreadable(f"expected ',' or ']' near character {self.pos}")

    def members(self) -> Iterator[str]:
        """Keys of a top-level object; the caller consumes each value before the next key."""
        self.expect("{")
        if self.peek() == "}":
            self.pos += 1
            return
        while True:
            key = self.value()
            self.expect(":")
            yield str(key)
            char = self.peek()
            self.pos += 1
            if char == "}":
                return
            if char != ",":
                raise _unreadable(f"expected ',' or '}}' near character {self.pos}")


def _as_row(item: Any) -> dict[str, Any]:
    return item if isinstance(item, dict) else {"value": item}


def _feature_row(feature: Any) -> dict[str, Any]:
    if not isinstance(feature, dict):
        return {"value": feature}
    geometry = feature.get("geometry")
    row: dict[str, Any] = {"id": feature.get("id")}
    props = feature.get("properties")
    if isinstance(props, dict):
        row.update(props)
    row["geometry_type"] = geometry.get("type") if isinstance(geometry, dict) else None
    row["geometry"] = json.dumps(geometry) if geometry is not None else None
    return row


class Extent:
    """The WGS 84 box of every position seen, in bounded memory: latitudes' min and max, and
    per whole degree of longitude the least and greatest longitude found there. The box's
    longitudes are the smallest arc holding them all (server.datasets.coverage's union:
    points either side of the antimeridian give a box across it, west > east). Any position
    outside degrees (a projected CRS) leaves the box unknown."""

    def __init__(self) -> None:
        self.bins: dict[int, tuple[float, float]] = {}
        self.south, self.north = 90.0, -90.0
        self.outside = 0

    def observe(self, geometry: Any) -> None:
        stack = [geometry]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.get("geometries") or [])
                stack.append(item.get("coordinates"))
            elif isinstance(item, list) and item and _is_number(item[0]):
                self._position(item)
            elif isinstance(item, list):
                stack.extend(item)

    def _position(self, position: list[Any]) -> None:
        if len(position) < 2 or not _is_number(position[1]):
            return
        lon, lat = float(position[0]), float(position[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            self.outside += 1
            return
        self.south, self.north = min(self.south, lat), max(self.north, lat)
        key = min(int(lon + 180), 359)
        low, high = self.bins.get(key, (lon, lon))
        self.bins[key] = (min(low, lon), max(high, lon))

    def coverage(self) -> dict[str, Any]:
        box = None
        if self.bins and not self.outside:
            spans = [Box(w, self.south, e, self.north) for w, e in self.bins.values()]
            box = union_boxes(spans)
        bbox = [box.west, box.south, box.east, box.north] if box else None
        return {"bbox": bbox, "time_start": None, "time_end": None}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _geojson_rows(scanner: Scanner, extent: Extent | None) -> Iterator[dict[str, Any]]:
    top: dict[str, Any] = {}
    for key in scanner.members():
        if key == "features" and scanner.peek() == "[":
            for feature in scanner.items():
                if extent is not None and isinstance(feature, dict):
                    extent.observe(feature.get("geometry"))
                yield _feature_row(feature)
        else:
            top[key] = scanner.value()
    if top.get("type") == "Feature":
        if extent is not None:
            extent.observe(top.get("geometry"))
        yield _feature_row(top)


class _Rows:
    def __init__(self) -> None:
        self.bad_lines = 0
        self.extent: Extent | None = None

    def read(self, stream: TextIO, fmt: DetectedFormat, limits: Limits) -> Iterator[dict[str, Any]]:
        if fmt.kind == "ndjson":
            yield from self._ndjson(stream)
        elif fmt.kind == "geojson":
            first = self.extent is None  # the positions are read on the first pass only
            if first:
                self.extent = Extent()
            yield from _geojson_rows(Scanner(stream, limits), self.extent if first else None)
        else:
            yield from (_as_row(item) for item in Scanner(stream, limits).items())

    def _ndjson(self, stream: TextIO) -> Iterator[dict[str, Any]]:
        for line in stream:
            text = line.strip()
            if not text:
                continue
            try:
                yield _as_row(json.loads(text))
            except ValueError:
                self.bad_lines += 1


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if _INT64[0] <= value <= _INT64[1] else "float"
    if isinstance(value, float):
        return "float"
    return "string"


def _merge(a: str, b: str) -> str:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if {a, b} == {"int", "float"}:
        return "float"
    return "string"


def _coerce(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "string":
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if kind == "float":
        return float(value)
    return value


class _Columns:
    def __init__(self, limits: Limits) -> None:
        self.kinds: dict[str, str] = {}
        self.limits = limits
        self.dropped = 0

    def observe(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            known = self.kinds.get(key)
            if known is None:
                if len(self.kinds) >= self.limits.max_columns:
                    self.dropped += 1
                    continue
                known = "null"
            self.kinds[key] = _merge(known, _kind(value))

    def schema(self) -> pa.Schema:
        return pa.schema([(k, _ARROW[v]) for k, v in self.kinds.items()])

    def coerce(self, row: dict[str, Any]) -> dict[str, Any]:
        return {k: _coerce(row.get(k), kind) for k, kind in self.kinds.items()}


def _open(path: Path, encoding: str) -> TextIO:
    return io.TextIOWrapper(
        open(path, "rb"),  # noqa: SIM115 - owned by the wrapper
        encoding=python_encoding(encoding),
        errors=error_handler(encoding),
        newline="",
    )


_MAX_DEPTH = 64


def validate(path: Path, fmt: DetectedFormat, limits: Limits) -> None:
    """Check that a JSON document that is not a table (a top-level object) is well formed
    from its first byte to its last, in bounded memory: objects and arrays are walked
    member by member; only leaves and array elements are decoded whole (each at most
    `Limits.json_max_value_bytes`). Raises UNREADABLE at the first fault."""
    with _open(path, fmt.encoding or "utf-8") as stream:
        scanner = Scanner(stream, limits)
        if scanner.peek() == "":
            raise _unreadable("no JSON value")
        _walk(scanner, 0)
        if scanner.peek() != "":
            raise _unreadable(f"data after the JSON value near character {scanner.pos}")


def _walk(scanner: Scanner, depth: int) -> None:
    if depth < _MAX_DEPTH and scanner.peek() == "{":
        for _ in scanner.members():
            _walk(scanner, depth + 1)
    else:
        scanner.value()


def to_sink(
    path: Path, fmt: DetectedFormat, out: Path, limits: Limits
) -> tuple[TableSink, dict[str, Any]]:
    encoding = fmt.encoding or "utf-8"
    columns = _Columns(limits)
    rows = _Rows()
    reset_fallbacks()
    with _open(path, encoding) as stream:
        for row in rows.read(stream, fmt, limits):
            columns.observe(row)
    replaced = fallbacks()
    bad_lines = rows.bad_lines
    sink = TableSink(columns.schema(), out, limits)
    try:
        with _open(path, encoding) as stream:
            chunk: list[dict[str, Any]] = []
            for row in rows.read(stream, fmt, limits):
                chunk.append(columns.coerce(row))
                if len(chunk) >= _BATCH_ROWS:
                    sink.add(pa.RecordBatch.from_pylist(chunk, schema=sink.schema))
                    chunk = []
            if chunk:
                sink.add(pa.RecordBatch.from_pylist(chunk, schema=sink.schema))
        sink.close()
    except BaseException:
        sink.abort()
        raise
    warnings: list[Notice] = []
    if bad_lines:
        message = f"skipped {bad_lines} line(s) that are not JSON"
        warnings.append(Notice(UploadWarningCode.BAD_LINES, message))
    if columns.dropped:
        message = f"fields beyond {limits.max_columns} columns dropped"
        warnings.append(Notice(UploadWarningCode.COLUMNS_DROPPED, message))
    if replaced:
        message = f"{replaced} byte sequence(s) not valid {encoding}, decoded as a fallback"
        warnings.append(Notice(UploadWarningCode.ENCODING_FALLBACK, message))
    extra: dict[str, Any] = {"encoding": encoding, "warnings": warnings}
    if rows.extent is not None:
        extra["coverage"] = rows.extent.coverage()
        if rows.extent.outside:
            message = f"{rows.extent.outside} position(s) outside WGS 84 degrees: no bounding box"
            warnings.append(Notice(UploadWarningCode.BAD_COORDINATES, message))
    if bad_lines:
        extra["skipped_rows"] = bad_lines
    return sink, extra
