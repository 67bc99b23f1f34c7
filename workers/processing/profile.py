"""The tabular sink: record batches are buffered into row groups of
`Limits.row_group_bytes`; each row group updates the profile and goes to the normalised
Parquet file; the first rows make the preview.

Profiling and Parquet encoding run in a second thread, one row group in flight, so the
parser (which releases the GIL) reads the next batches meanwhile; profiling a whole row
group at once also costs far less per row than profiling each small parser batch."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import queue
import threading
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .model import Limits
from .sketch import HyperLogLog

_MAX_TEXT = 200


def type_kind(t: pa.DataType) -> str:
    checks = (
        (pa.types.is_null, "null"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_integer, "integer"),
        (pa.types.is_floating, "float"),
        (pa.types.is_decimal, "decimal"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_time, "time"),
        (pa.types.is_duration, "duration"),
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_binary, "binary"),
        (pa.types.is_large_binary, "binary"),
        (pa.types.is_dictionary, "string"),
    )
    for check, kind in checks:
        if check(t):
            return kind
    return "nested"


def jsonable(value: Any) -> Any:
    """A value as JSON can carry it: dates in ISO 8601, NaN/inf as null, bytes in base64."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        return value[:_MAX_TEXT] + "…"
    return value


class ColumnStats:
    def __init__(self, name: str, type_: pa.DataType) -> None:
        self.name = name
        self.type = type_
        self.kind = type_kind(type_)
        self.nulls = 0
        self.min: Any = None
        self.max: Any = None
        self.total = 0.0
        self.counted = 0
        self.sketch = HyperLogLog() if self.kind != "nested" else None

    def update(self, arr: pa.Array) -> None:
        self.nulls += arr.null_count
        if self.kind in ("null", "nested") or arr.null_count == len(arr):
            return
        if self.kind not in ("binary",):
            self._update_range(arr)
        if self.kind in ("integer", "float", "decimal"):
            floats = arr.cast(pa.float64(), safe=False)
            total = pc.sum(floats).as_py()
            self.total += total or 0.0
            self.counted += len(arr) - arr.null_count
        if self.sketch is not None:
            self.sketch.add_array(arr)

    def _update_range(self, arr: pa.Array) -> None:
        if self.kind == "duration":  # Arrow has no min_max kernel for durations
            mm = pc.min_max(arr.cast(pa.int64()))
            lo, hi = (pa.scalar(mm[k].as_py(), arr.type).as_py() for k in ("min", "max"))
        else:
            mm = pc.min_max(arr)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if lo is not None and (self.min is None or lo < self.min):
            self.min = lo
        if hi is not None and (self.max is None or hi > self.max):
            self.max = hi

    def summary(self) -> dict[str, Any]:
        mean = self.total / self.counted if self.counted else None
        return {
            "name": self.name,
            "type": self.kind,
            "arrow_type": str(self.type),
            "null_count": self.nulls,
            "min": _clip(jsonable(self.min)),
            "max": _clip(jsonable(self.max)),
            "mean": jsonable(mean) if self.kind in ("integer", "float", "decimal") else None,
            "distinct_estimate": self.sketch.estimate() if self.sketch else None,
        }


class TableSink:
    """Consumes record batches of one schema: profile, preview, Parquet."""

    def __init__(self, schema: pa.Schema, parquet_path: Path, limits: Limits) -> None:
        self.schema = schema
        self.limits = limits
        self.rows = 0
        self.columns = [ColumnStats(f.name, f.type) for f in schema]
        self.preview: list[dict[str, Any]] = []
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0
        # dictionary pages for text only: they suit categories; on numbers and times they
        # cost ~40% of the write time and zstd compresses those as well without them
        text = [f.name for f in schema if type_kind(f.type) == "string"]
        self._writer = pq.ParquetWriter(
            parquet_path,
            schema,
            compression="zstd",
            compression_level=1,
            use_dictionary=text or False,
        )
        self._queue: queue.Queue[pa.Table | None] = queue.Queue(maxsize=1)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_loop, name="parquet-writer", daemon=True)
        self._thread.start()

    def _write_loop(self) -> None:
        while (table := self._queue.get()) is not None:
            if self._error is None:
                try:
                    for stats, column in zip(self.columns, table.columns, strict=True):
                        stats.update(column.combine_chunks())
                    self._writer.write_table(table, row_group_size=max(table.num_rows, 1))
                except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
                    self._error = exc

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if batch.schema != self.schema:
            batch = pa.RecordBatch.from_arrays(batch.columns, schema=self.schema)
        self.rows += batch.num_rows
        self._take_preview(batch)
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        if self._pending_bytes >= self.limits.row_group_bytes:
            self._flush()

    def _take_preview(self, batch: pa.RecordBatch) -> None:
        need = self.limits.preview_rows - len(self.preview)
        if need > 0:
            rows = batch.slice(0, need).to_pylist()
            self.preview.extend({k: jsonable(v) for k, v in row.items()} for row in rows)

    def _flush(self) -> None:
        if self._error is not None:
            raise self._error
        if self._pending:
            self._queue.put(pa.Table.from_batches(self._pending, schema=self.schema))
        self._pending = []
        self._pending_bytes = 0

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self._stop()
        if self._error is not None:
            raise self._error
        self._writer.close()

    def abort(self) -> None:
        self._pending = []
        self._stop()
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - best effort on an already failed write
            pass

    def profile(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": [c.summary() for c in self.columns]}
