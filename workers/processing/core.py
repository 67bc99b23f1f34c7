"""The single pass over the raw object, and what follows it.

`UploadProcessor` is a synchronous push sink: `write(chunk)` hashes and counts every byte
once (sha256, hashlib releases the GIL), keeps the first `Limits.head_bytes` to detect the
format, and copies bytes to a spool file in `workdir` only when the format needs a local
file (tabular text, Parquet, ZIP, spreadsheets, the native formats) and none is at hand:
opaque formats are never written to disk; with `local_path` (the embedded store's own file)
the readers read it in place; with `remote` (S3), the formats read by range
(native.reads_by_range: NetCDF-4, HDF5, Cloud-Optimised GeoTIFF) are described from the
object's byte ranges by a thread started as soon as the format is known, beside the hash.
CSV and TSV are read front to back, so their parsing, profiling and Parquet encoding start
in a thread as soon as the format is known and follow the spool while it is written (or
read the local file): the download and the parse overlap. `finish()` checks size and
checksum before it returns any derived artifact (a parse that raced ahead of a bad checksum
is thrown away), and formats that need the whole file (Parquet, ZIP, JSON) are processed
after it.
Wrappers: `process_chunks` (sync iterable), `process_file` (a local file: no spool, read in
place), `process_stream` (async iterator; the CPU-heavy work runs in a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import hashlib
import hmac
import re
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa

from server.models.enums import UploadWarningCode

from . import jsonstream, native, tabular
from .archive import inspect_zip
from .detect import detect_format
from .model import DetectedFormat, ErrorCode, Limits, Notice, ProcessingError, ProcessingResult
from .profile import TableSink
from .spool import Spool

PARQUET_NAME = "normalised.parquet"
SPOOL_NAME = "raw.spool"
_ZIPPED_KINDS = {"zip", "xlsx", "ods", "shapefile"}
# read in the sandbox (native.py)
_NATIVE_KINDS = {"xlsx", "ods", "xls", "netcdf", "hdf5", "tiff", "gpkg", "flatgeobuf", "kml"}
_NATIVE_KINDS |= {"fasta", "fastq", "vcf", "mseed", "sac", "png", "jpeg", "gif", "webp", "pdf"}
_SPOOLED_KINDS = {"csv", "tsv", "ndjson", "json", "geojson", "parquet"} | _ZIPPED_KINDS
_SPOOLED_KINDS |= _NATIVE_KINDS
_FOLLOWED_KINDS = {"csv", "tsv"}  # parsed while the spool is still being written
_TEXT_EXTENSIONS = {".csv", ".tsv", ".tab", ".txt", ".json", ".ndjson", ".jsonl", ".geojson"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INLINE_HASH = 256 * 1024


@dataclass(frozen=True, slots=True)
class RemoteObject:
    """The raw object as the store serves its byte ranges (S3: a presigned GET URL, signed
    by `sign` when a reader needs it), and the ETag of the object being hashed (its ranges
    are asked for with If-Match)."""

    sign: Callable[[], str]
    etag: str | None = None


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8  # glibc's mallopt(3)


@functools.cache
def lean_memory() -> str:
    """Keep a worker's peak RSS low and flat in file size; once per process.

    - glibc: at most 2 malloc arenas; buffers up to 8 MiB (the 4 MiB download chunks)
      from the heap, kept there up to 16 MiB when freed, so that the next chunk reuses
      their pages; larger ones (S3 parts) mmapped and given back when freed. Mapping every
      chunk afresh (the threshold at 1 MiB, as before) cost ~230,000 page faults per GiB
      streamed, 0.5 s of a 1.9 s pass in this VM; the fixed threshold also stops glibc's
      sliding one from moving ever larger buffers to the heap.
    - Arrow allocates through jemalloc where the wheel has it: on a 256 MiB CSV the core's
      peak was ~30 MiB lower than with the default mimalloc, at the same speed.
    Returns Arrow's allocator backend."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, 2)
        libc.mallopt(_M_MMAP_THRESHOLD, 8 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 16 << 20)
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    return str(pa.default_memory_pool().backend_name)


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
        remote: RemoteObject | None = None,
    ) -> None:
        self.filename = filename
        self.declared_size = declared_size
        self.declared_sha256 = _normalise_sha(declared_sha256)
        self.limits = limits or Limits()
        self.workdir = Path(workdir)
        self.local_path = local_path
        self.remote = remote
        self.size = 0
        self._hash = hashlib.sha256()
        self._head = bytearray()
        self._format: DetectedFormat | None = None
        self._spool: Spool | None = None
        self._early: threading.Thread | None = None
        self._derived: tuple[TableSink, dict[str, Any]] | None = None
        self._early_error: BaseException | None = None
        self._known_sha256: str | None = None  # finish_known: the store's
        self._ranged: threading.Thread | None = None
        self._ranged_answer: dict[str, Any] | None = None
        self._check_declared()
        lean_memory()

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
        followed = self._format.kind in _FOLLOWED_KINDS
        if self.local_path is not None:  # the bytes are on disk already: read in place
            if followed:  # parsed beside the hash, as a spool would be
                self._early = self._start(self._derive_early, "parse-beside-hash")
        elif self.remote is not None and native.reads_by_range(self._format, head):
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._ranged = self._start(self._extract_by_range, "extract-by-range")
        elif self._format.kind in _SPOOLED_KINDS:
            self.workdir.mkdir(parents=True, exist_ok=True)
            self._spool = Spool(self.workdir / SPOOL_NAME, size_hint=self.declared_size)
            self._spool.write(self._head)
            if followed:
                self._early = self._start(self._derive_early, "parse-while-download")
        self._head = bytearray(head)

    def _start(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        return thread

    def _extract_by_range(self) -> None:
        """The extractor reads the object by range from the store while this pass hashes
        it; its answer counts only once the hash and size check out (`_finish`)."""
        assert self._format is not None and self.remote is not None
        try:
            self._ranged_answer = native.run(
                self._format,
                self.remote.sign(),
                self.workdir / "native",
                self.limits,
                etag=self.remote.etag,
            )
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self._early_error = exc

    def _derive_early(self) -> None:
        source = self._spool or self.local_path
        assert self._format is not None and source is not None
        try:
            self._derived = self._derive(self._format, source)
        except BaseException as exc:  # noqa: BLE001 - handed to finish()
            self._early_error = exc

    def finish(self) -> ProcessingResult:
        try:
            if self._format is None:
                self._decide()
            if self._spool is not None:
                self._spool.close()
            return self._finish()
        finally:
            self.cleanup()

    def finish_known(self, head: bytes, size: int, sha256: str) -> ProcessingResult | None:
        """The result from the object's first bytes alone, in place of writing them all, when
        the store vouches for its size and sha256 (its checksum, checked on the PUT) and its
        format needs no more (an opaque file, plain text); None, with nothing started, when
        it does: a format that `_decide` would spool (parsed, extracted or listed; without
        a local file or a remote one that is every format that reads past the head). The
        declared size and sha256 are checked against the store's as against a pass's own."""
        self._head = bytearray(head[: self.limits.head_bytes])
        self._format = detect_format(bytes(self._head), self.filename)
        if self._format.kind in _SPOOLED_KINDS:
            return None
        self.size, self._known_sha256 = size, sha256
        result = self._finish()
        result.sha256_by = "store-checksum"
        return result

    def cleanup(self) -> None:
        if self._spool is not None:
            if self._early is not None and self._early.is_alive():
                self._spool.abort("processing was abandoned")
                self._early.join()
            self._spool.close()
            self._spool.path.unlink(missing_ok=True)
        # a parse of a local file or an extraction by range cannot be stopped halfway:
        # waited for (bounded by the sandbox's wall clock), so nothing writes into the
        # work directory after its owner removed it
        for thread in (self._early, self._ranged):
            if thread is not None:
                thread.join()

    def _finish(self) -> ProcessingResult:
        sha = self._known_sha256 or self._hash.hexdigest()
        try:
            self._verify(sha)
        except ProcessingError:
            self._fail_early()
            raise
        assert self._format is not None
        result = ProcessingResult(sha256=sha, size=self.size, format=self._format)
        self._note_not_text(result)
        if self._early is not None:
            self._early.join()
            if self._early_error is not None:
                raise self._early_error
            self._apply(result, self._derived)
            return result
        if self._ranged is not None:
            self._ranged.join()
            if self._early_error is not None:
                raise self._early_error
            assert self._ranged_answer is not None
            native.apply(result, self._ranged_answer, self.workdir / "native")
            return result
        source = self.local_path or (self._spool.path if self._spool else None)
        if source is not None:
            self._process_local(result, source)
        return result

    def _note_not_text(self, result: ProcessingResult) -> None:
        """A file named like text whose bytes are not: kept as it is, and the user told."""
        ext = PurePath(self.filename).suffix.lower()
        if result.format.kind == "opaque" and ext in _TEXT_EXTENSIONS:
            message = (
                f"named {ext} but its first bytes are not text (NUL or control bytes): "
                "kept as it is, not profiled"
            )
            result.warnings.append(Notice(UploadWarningCode.NOT_TEXT, message))

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

    def _fail_early(self) -> None:
        """Stop a parse that raced ahead of a failed check, and drop what it wrote (an
        extraction by range is waited for by cleanup; its answer is never applied)."""
        if self._early is not None:
            if self._spool is not None:
                self._spool.abort("the upload failed its checks")
            self._early.join()
            (self.workdir / PARQUET_NAME).unlink(missing_ok=True)

    def _process_local(self, result: ProcessingResult, source: Path) -> None:
        fmt = result.format
        if fmt.kind in _ZIPPED_KINDS and fmt.detail != "ole2":
            result.format = fmt = detect_format(bytes(self._head), self.filename, path=source)
            result.archive = inspect_zip(source, self.size, self.limits)  # bombs refused here
            if result.archive.get("verified") is False:
                note = str(result.archive.get("note", "members not verified"))
                result.warnings.append(Notice(UploadWarningCode.NOT_VERIFIED, note))
        if native.handles(fmt):
            native.extract(result, source, self.workdir / "native", self.limits)
            return
        if fmt.kind in _ZIPPED_KINDS:
            return
        if fmt.kind == "json" and not fmt.tabular:  # a document, not a table: check it
            if self.size <= self.limits.json_max_bytes:
                jsonstream.validate(source, fmt, self.limits)
            else:
                message = f"json over {self.limits.json_max_bytes} bytes: kept, not validated"
                result.warnings.append(Notice(UploadWarningCode.NOT_VALIDATED, message))
            return
        if not fmt.tabular:
            return
        self._apply(result, self._derive(fmt, source))
        if fmt.kind == "geojson" and result.profile is not None:
            native.add_layer(result, source, self.workdir / "native", self.limits, self.filename)

    def _derive(
        self, fmt: DetectedFormat, source: Path | Spool
    ) -> tuple[TableSink, dict[str, Any]] | None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        return self._tabular(fmt, source, self.workdir / PARQUET_NAME)

    def _apply(
        self, result: ProcessingResult, done: tuple[TableSink, dict[str, Any]] | None
    ) -> None:
        fmt = result.format
        out = self.workdir / PARQUET_NAME
        if done is None:
            message = f"{fmt.kind} over {self.limits.json_max_bytes} bytes: kept, not profiled"
            result.warnings.append(Notice(UploadWarningCode.NOT_PROFILED, message))
            out.unlink(missing_ok=True)
            return
        sink, extra = done
        warnings: list[Notice] = extra.pop("warnings", [])
        profile: dict[str, Any] = sink.profile()
        profile.update(extra)
        profile["warnings"] = [w.as_dict() for w in warnings]
        result.profile = profile
        result.preview = sink.preview
        result.parquet_path = out
        result.warnings.extend(warnings)

    def _tabular(
        self, fmt: DetectedFormat, source: Path | Spool, out: Path
    ) -> tuple[TableSink, dict[str, Any]] | None:
        if fmt.kind in ("csv", "tsv"):
            return tabular.process_csv(source, bytes(self._head), fmt, out, self.limits)
        assert isinstance(source, Path)
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


def process_known(
    head: bytes,
    *,
    filename: str,
    size: int,
    sha256: str,
    declared_size: int | None,
    declared_sha256: str | None,
    workdir: Path,
    limits: Limits | None = None,
) -> ProcessingResult | None:
    """An object the store vouches for (`size`, `sha256`: its checksum, checked on the PUT)
    from its first bytes alone, when its format needs no more (UploadProcessor.finish_known);
    None when it does."""
    proc = UploadProcessor(
        filename=filename,
        declared_size=declared_size,
        declared_sha256=declared_sha256,
        limits=limits,
        workdir=workdir,
    )
    return proc.finish_known(head, size, sha256)


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
    local_path: Path | None = None,
    remote: RemoteObject | None = None,
) -> ProcessingResult:
    """`local_path`: the object's own file (read in place, never spooled); `remote`: where
    the store serves its byte ranges (formats read by range are not spooled)."""
    proc = UploadProcessor(
        filename=filename,
        declared_size=declared_size,
        declared_sha256=declared_sha256,
        limits=limits,
        workdir=workdir,
        local_path=local_path,
        remote=remote,
    )
    writing: asyncio.Future[None] | None = None
    try:
        # aclosing: the fetch on the way is cancelled and awaited before we leave, whatever
        # the way out, so the caller may close the source at once (closing an async
        # generator while a fetch runs in it raises RuntimeError, hiding the cancellation)
        async with contextlib.aclosing(_read_ahead(chunks)) as ahead:
            async for chunk in ahead:
                if len(chunk) < _INLINE_HASH:
                    proc.write(chunk)
                else:
                    # shielded: a cancellation must not leave the thread writing behind
                    # cleanup's back (it could start the parse thread after cleanup ran)
                    writing = asyncio.ensure_future(asyncio.to_thread(proc.write, chunk))
                    await asyncio.shield(writing)
    except BaseException:
        if writing is not None and not writing.done():
            await asyncio.wait([writing])
        proc.cleanup()
        raise
    return await asyncio.to_thread(proc.finish)


async def _read_ahead(chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes]:
    """Fetch the next chunk while the caller hashes this one: the download and the hash
    overlap, with one chunk in hand and one on the way."""
    source = aiter(chunks)
    pending: asyncio.Future[bytes] = asyncio.ensure_future(anext(source))
    try:
        while True:
            try:
                chunk = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(source))
            yield chunk
    finally:
        if not pending.done():
            pending.cancel()
            # wait() neither raises the fetch's own error nor swallows our cancellation
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # retrieved: a failed fetch we no longer need is not logged
