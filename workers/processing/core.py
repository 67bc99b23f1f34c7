"""The single pass over the raw object, and what follows it.

`UploadProcessor` is a synchronous push sink: `write(chunk)` hashes and counts every byte
once (sha256, hashlib releases the GIL), keeps the first `Limits.head_bytes` to detect the
format, and copies bytes to a spool file in `workdir` only when the format needs a local
file (tabular text, Parquet, ZIP and xlsx); opaque formats are never written to disk.
`finish()` checks size and checksum *before* any derived artifact is made, then profiles.
Wrappers: `process_chunks` (sync iterable), `process_file` (a local file: no spool, read in
place), `process_stream` (async iterator; the CPU-heavy work runs in a thread).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any, BinaryIO

from . import tabular
from .archive import inspect_zip
from .detect import detect_format
from .model import DetectedFormat, ErrorCode, Limits, ProcessingError, ProcessingResult
from .profile import TableSink

PARQUET_NAME = "normalised.parquet"
SPOOL_NAME = "raw.spool"
_SPOOLED_KINDS = {"csv", "tsv", "ndjson", "json", "geojson", "parquet", "zip", "xlsx"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INLINE_HASH = 256 * 1024


class UploadProcessor:
    def __init__(
        self,
        *,
        filename: str,
        declared_size: int | None,
        declared_sha256: str | None,
        limits: Limits | None = None,
        workdir: Path,
        local_path: Path | None = None,
    ) -> None:
        self.filename = filename
        self.declared_size = declared_size
        self.declared_sha256 = _normalise_sha(declared_sha256)
        self.limits = limits or Limits()
        self.workdir = Path(workdir)
        self.local_path = local_path
        self.size = 0
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._format: DetectedFormat | None = None
        self._spool: BinaryIO | None = None
        self._spool_path: Path | None = None
        self._check_declared()

    def _check_declared(self) -> None:
        if self.declared_size is not None and self.declared_size > self.limits.max_bytes:
            raise ProcessingError(
                ErrorCode.TOO_LARGE,
                f"declared size {self.declared_size} exceeds the limit {self.limits.max_bytes}",
            )

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        if not chunk:
            return
        self.size += len(chunk)
        self._check_running_size()
        self._hash.update(chunk)
        if self._format is None:
            self._head += chunk
            if len(self._head) >= self.limits.head_bytes:
                self._decide()
        elif self._spool is not None:
            self._spool.write(chunk)

    def _check_running_size(self) -> None:
        if self.size > self.limits.max_bytes:
            raise ProcessingError(ErrorCode.TOO_LARGE, f"more than {self.limits.max_bytes} bytes")
        if self.declared_size is not None and self.size > self.declared_size:
            raise ProcessingError(
                ErrorCode.SIZE_MISMATCH,
                f"more than the declared {self.declared_size} bytes",
            )

    def _decide(self) -> None:
        head = bytes(self._head[: self.limits.head_bytes])
        self._format = detect_format(head, self.filename)
        if self._format.kind in _SPOOLED_KINDS and self.local_path is None:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._spool_path = self.workdir / SPOOL_NAME
            self._spool = open(self._spool_path, "wb")  # noqa: SIM115 - closed in finish
            self._spool.write(self._head)
        self._head = bytearray(head)

    def finish(self) -> ProcessingResult:
        try:
            if self._format is None:
                self._decide()
            if self._spool is not None:
                self._spool.close()
            return self._finish()
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self._spool is not None and not self._spool.closed:
            self._spool.close()
        if self._spool_path is not None:
            self._spool_path.unlink(missing_ok=True)

    def _finish(self) -> ProcessingResult:
        sha = self._hash.hexdigest()
        self._verify(sha)
        assert self._format is not None
        result = ProcessingResult(sha256=sha, size=self.size, format=self._format)
        source = self.local_path or self._spool_path
        if source is not None:
            self._process_local(result, source)
        return result

    def _verify(self, sha: str) -> None:
        if self.declared_size is not None and self.size != self.declared_size:
            raise ProcessingError(
                ErrorCode.SIZE_MISMATCH,
                f"received {self.size} bytes, declared {self.declared_size}",
            )
        if self.declared_sha256 is not None and not hmac.compare_digest(sha, self.declared_sha256):
            raise ProcessingError(
                ErrorCode.CHECKSUM_MISMATCH,
                f"sha256 is {sha}, declared {self.declared_sha256}",
            )
        if self.size == 0:
            raise ProcessingError(ErrorCode.EMPTY_FILE, "the upload has no bytes")

    def _process_local(self, result: ProcessingResult, source: Path) -> None:
        fmt = result.format
        if fmt.kind in ("zip", "xlsx"):
            result.format = detect_format(bytes(self._head), self.filename, path=source)
            result.archive = inspect_zip(source, self.size, self.limits)
            return
        if not fmt.tabular:
            return
        out = self.workdir / PARQUET_NAME
        self.workdir.mkdir(parents=True, exist_ok=True)
        done = self._tabular(fmt, source, out)
        if done is None:
            result.warnings.append(
                f"{fmt.kind} over {self.limits.json_max_bytes} bytes: kept, not profiled"
            )
            out.unlink(missing_ok=True)
            return
        sink, extra = done
        warnings: list[str] = extra.pop("warnings", [])
        profile: dict[str, Any] = sink.profile()
        profile.update(extra)
        profile["warnings"] = warnings
        result.profile = profile
        result.preview = sink.preview
        result.parquet_path = out
        result.warnings.extend(warnings)

    def _tabular(
        self, fmt: DetectedFormat, source: Path, out: Path
    ) -> tuple[TableSink, dict[str, Any]] | None:
        if fmt.kind in ("csv", "tsv"):
            return tabular.process_csv(source, bytes(self._head), fmt, out, self.limits)
        if fmt.kind == "parquet":
            return tabular.process_parquet(source, out, self.limits)
        return tabular.process_json(source, fmt, self.size, out, self.limits)


def _normalise_sha(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip().lower()
    if not _SHA256.match(value):
        raise ProcessingError(
            ErrorCode.CHECKSUM_MISMATCH, "the declared sha256 is not 64 hexadecimal characters"
        )
    return value


def process_chunks(
    chunks: Iterable[bytes],
    *,
    filename: str,
    declared_size: int | None,
    declared_sha256: str | None,
    workdir: Path,
    limits: Limits | None = None,
) -> ProcessingResult:
    proc = UploadProcessor(
        filename=filename,
        declared_size=declared_size,
        declared_sha256=declared_sha256,
        limits=limits,
        workdir=workdir,
    )
    try:
        for chunk in chunks:
            proc.write(chunk)
    except BaseException:
        proc.cleanup()
        raise
    return proc.finish()


def process_file(
    path: Path,
    *,
    filename: str | None = None,
    declared_size: int | None,
    declared_sha256: str | None,
    workdir: Path,
    limits: Limits | None = None,
) -> ProcessingResult:
    """A local file (embedded object store): hashed in one read, processed in place."""
    limits = limits or Limits()
    proc = UploadProcessor(
        filename=filename or Path(path).name,
        declared_size=declared_size,
        declared_sha256=declared_sha256,
        limits=limits,
        workdir=workdir,
        local_path=Path(path),
    )
    with open(path, "rb") as fh:
        while chunk := fh.read(limits.read_chunk):
            proc.write(chunk)
    return proc.finish()


async def process_stream(
    chunks: AsyncIterator[bytes],
    *,
    filename: str,
    declared_size: int | None,
    declared_sha256: str | None,
    workdir: Path,
    limits: Limits | None = None,
) -> ProcessingResult:
    proc = UploadProcessor(
        filename=filename,
        declared_size=declared_size,
        declared_sha256=declared_sha256,
        limits=limits,
        workdir=workdir,
    )
    try:
        async for chunk in chunks:
            if len(chunk) < _INLINE_HASH:
                proc.write(chunk)
            else:
                await asyncio.to_thread(proc.write, chunk)
    except BaseException:
        proc.cleanup()
        raise
    return await asyncio.to_thread(proc.finish)
