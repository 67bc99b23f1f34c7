"""The object store of satreps-hub: raw uploads, processed artifacts, provenance documents.

Two implementations behind one interface (`ObjectStore`), both used from async code (the API
and the arq workers):

- `LocalObjectStore(root)` for the embedded mode: a local directory, one subdirectory per
  bucket, atomic writes (temporary file + rename), multipart uploads staged on disk.
- `S3ObjectStore(endpoint, ...)` for production: S3 / MinIO / SeaweedFS through the minio SDK.
  The SDK is synchronous; every call runs in a dedicated, deliberately sized thread pool
  (never the event loop's default executor), with an HTTP connection pool of the same size.

Both stores share one multipart lifecycle (`create_multipart` -> parts -> `list_parts` ->
`complete_multipart` / `abort_multipart`). With S3 the client PUTs parts straight to
`presigned_part_url`; with the local store the server's own upload endpoint feeds
`write_part`.

Keys come from user-controlled input: build them with `safe_key`; every operation checks the
key again. Failures are `StorageError`s; `StoreUnavailable` (connection refused, timeouts,
5xx) is the transient one a pipeline retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import hashlib
import io
import json
import logging
import os
import re
import shutil
import time
import unicodedata
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, NamedTuple, TypeVar, cast
from urllib.parse import quote

from server.core.config import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

DEFAULT_CHUNK_SIZE = 4 * MiB  # bounded size of the chunks `open_read` yields
DEFAULT_PART_SIZE = 16 * MiB  # FACTS.md: 16 MiB parts are as fast as 64 MiB on SeaweedFS
MIN_PART_SIZE = 5 * MiB  # S3: every part but the last
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_SEGMENT_BYTES = 255
MAX_KEY_BYTES = 1024
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

# Sources `put` accepts: bytes, an async iterable of chunks, or a file path (os.PathLike; a
# plain str is refused, it would be ambiguous with data).
Source = bytes | bytearray | memoryview | AsyncIterable[bytes] | os.PathLike[str]


# --------------------------------------------------------------------------------------------
# Errors


class StorageError(Exception):
    """A failure of the object store. `transient` ones may succeed when retried."""

    transient: ClassVar[bool] = False


class ObjectNotFound(StorageError):
    pass


class BucketNotFound(StorageError):
    pass


class UploadNotFound(StorageError):
    """The multipart upload does not exist (never created, completed or aborted)."""


class InvalidPart(StorageError):
    """A part list given to `complete_multipart` does not match the uploaded parts."""


class InvalidRange(StorageError):
    pass


class SizeMismatch(StorageError):
    """The data did not have the size the caller announced; nothing was stored."""


class ObjectLocked(StorageError):
    """The store refused to delete or overwrite a locked (write-once) object version."""


class KeyConflict(StorageError):
    """Local store only: a key is both an object and a prefix of another (`a` and `a/b`)."""


class UnsupportedOperation(StorageError):
    pass


class StoreUnavailable(StorageError):
    """The store cannot be reached or failed on its side (timeouts, 5xx): retry later."""

    transient: ClassVar[bool] = True


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, slots=True)
class Buckets:
    """The three logical buckets (S3 buckets, or subdirectories of the local store)."""

    raw: str = "satreps-raw"
    artifacts: str = "satreps-artifacts"
    provenance: str = "satreps-provenance"

    def all(self) -> tuple[str, str, str]:
        return (self.raw, self.artifacts, self.provenance)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    sha256: str | None = None  # hex; known when this process wrote the bytes (or metadata)
    content_type: str | None = None
    last_modified: dt.datetime | None = None
    version_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


class PartInfo(NamedTuple):
    part_number: int
    etag: str
    size: int


PartRef = PartInfo | tuple[int, str]
PartList = list[PartInfo]


# --------------------------------------------------------------------------------------------
# Keys and names

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_META_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def _check_segment(part: str) -> None:
    if part == "":
        raise ValueError("empty key segment (leading, trailing or double slash)")
    if part in (".", ".."):
        raise ValueError(f"relative key segment {part!r} is not allowed")
    if "\\" in part:
        raise ValueError("backslash is not allowed in a key")
    if "\x00" in part:
        raise ValueError("NUL character is not allowed in a key")
    for char in part:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(f"control or format character U+{ord(char):04X} in a key")
    if part != part.strip():
        raise ValueError("key segment must not start or end with whitespace")
    if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise ValueError(f"key segment longer than {MAX_SEGMENT_BYTES} bytes (UTF-8)")


def safe_key(*segments: str) -> str:
    """An object key from user-controlled segments, or `ValueError`.

    Each segment is NFC-normalised and may contain `/` as a separator between non-empty
    parts; no absolute paths, `.`/`..`, backslashes, NUL or other control/format characters,
    leading/trailing whitespace; at most 255 UTF-8 bytes per part and 1024 for the key.
    """
    if not segments:
        raise ValueError("an object key needs at least one segment")
    parts: list[str] = []
    for segment in segments:
        if not isinstance(segment, str):
            raise ValueError(f"key segment must be a string, not {type(segment).__name__}")
        segment = unicodedata.normalize("NFC", segment)
        if segment == "":
            raise ValueError("empty key segment")
        if segment.startswith("/"):
            raise ValueError("absolute paths are not allowed in a key")
        for part in segment.split("/"):
            _check_segment(part)
            parts.append(part)
    key = "/".join(parts)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"key longer than {MAX_KEY_BYTES} bytes (UTF-8)")
    return key


def check_key(key: str) -> str:
    """Accept `key` only if it already is what `safe_key` makes of it (NFC included)."""
    if safe_key(key) != key:
        raise ValueError("key is not in Unicode normalisation form NFC")
    return key


def check_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(f"invalid bucket name {bucket!r}")
    return bucket


_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_FILENAME_BAD = re.compile(r'[<>:"/\\|?*]')


def sanitize_filename(name: str, fallback: str = "download") -> str:
    """A harmless display / download name: the last path component, NFC, no control or
    format characters, no characters Windows refuses, at most 255 UTF-8 bytes (the
    extension kept), never empty, `.` or `..`."""
    name = unicodedata.normalize("NFC", str(name))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in _FORBIDDEN_CATEGORIES)
    name = _FILENAME_BAD.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        return fallback
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, dot, ext = name, "", ""
    if stem.lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = dot + ext
    budget = MAX_SEGMENT_BYTES - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")
    if len(encoded) > budget:
        stem = encoded[:budget].decode("utf-8", errors="ignore").rstrip(" .")
    return (stem + suffix) or fallback


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition value with an ASCII fallback and the RFC 6266 UTF-8 name."""
    clean = sanitize_filename(filename)
    ascii_name = (
        unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode().replace("%", "_")
    )
    ascii_name = sanitize_filename(ascii_name.replace('"', "_"))
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as the stores keep it: lower-case token keys, printable ASCII values."""
    result: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        lowered = str(key).lower()
        if not _META_KEY_RE.match(lowered):
            raise ValueError(f"invalid metadata key {key!r}")
        text = str(value)
        if not text.isascii() or not text.isprintable():
            raise ValueError(f"metadata value of {key!r} must be printable ASCII")
        result[lowered] = text
    return result


def _check_part_number(part_number: int) -> int:
    if not 1 <= part_number <= MAX_PARTS:
        raise ValueError(f"part number must be between 1 and {MAX_PARTS}")
    return part_number


def _expires(expires: dt.timedelta | int | float) -> dt.timedelta:
    delta = expires if isinstance(expires, dt.timedelta) else dt.timedelta(seconds=expires)
    if not 1 <= delta.total_seconds() <= MAX_PRESIGN_SECONDS:
        raise ValueError("expiry must be between 1 second and 7 days")
    return delta


def _normalise_parts(parts: Sequence[PartRef]) -> list[tuple[int, str]]:
    result = [(int(p[0]), str(p[1]).strip('"')) for p in parts]
    if not result:
        raise InvalidPart("a multipart upload needs at least one part")
    numbers = [n for n, _ in result]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise InvalidPart("parts must be listed in strictly ascending part-number order")
    for n in numbers:
        _check_part_number(n)
    return result


# --------------------------------------------------------------------------------------------
# Reading


class ObjectReader:
    """An async iterator of chunks of one object (or a byte range of it).

    `info` describes the whole object; `offset` and `length` the range served. Use it as an
    async context manager, or call `aclose()`, to release the file / HTTP connection early.
    """

    def __init__(
        self,
        info: ObjectInfo,
        offset: int,
        length: int,
        chunks: AsyncIterator[bytes],
        release: Callable[[], Awaitable[None]],
    ) -> None:
        self.info = info
        self.offset = offset
        self.length = length
        self._chunks = chunks
        self._release: Callable[[], Awaitable[None]] | None = release

    def __aiter__(self) -> ObjectReader:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            aclose = getattr(self._chunks, "aclose", None)
            if aclose is not None:
                await aclose()
            await release()

    async def __aenter__(self) -> ObjectReader:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def read_all(self) -> bytes:
        async with self:
            return b"".join([chunk async for chunk in self])


def _range(size: int, offset: int, length: int | None) -> int:
    """The number of bytes a read of (offset, length) serves; S3 semantics."""
    if offset < 0 or (length is not None and length < 0):
        raise ValueError("offset and length must not be negative")
    if offset > 0 and offset >= size:
        raise InvalidRange(f"offset {offset} is beyond the object's size {size}")
    remaining = size - offset
    return remaining if length is None else min(length, remaining)


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _nothing() -> None:
    return None


# --------------------------------------------------------------------------------------------
# The interface


class ObjectStore(ABC):
    """What the API and the workers use. All I/O runs off the event loop in the store's own
    thread pool of `max_workers` threads."""

    supports_presigned: ClassVar[bool] = False

    def __init__(self, buckets: Buckets, *, max_workers: int, chunk_size: int) -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        if chunk_size < 64 * KiB:
            raise ValueError("chunk_size must be at least 64 KiB")
        for name in buckets.all():
            check_bucket(name)
        self.buckets = buckets
        self.chunk_size = chunk_size
        self.max_workers = max_workers
        self.supports_object_lock = False
        self._executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix=f"satreps-{type(self).__name__}"
        )

    # --- plumbing ---------------------------------------------------------------------------

    def _translate(self, exc: BaseException) -> BaseException:
        return exc

    async def _run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        call = functools.partial(fn, *args, **kwargs)
        try:
            return await loop.run_in_executor(self._executor, call)
        except (StorageError, ValueError, asyncio.CancelledError):
            raise
        except Exception as exc:
            mapped = self._translate(exc)
            if mapped is exc:
                raise
            raise mapped from exc

    async def _iter_source(self, data: Source) -> AsyncIterator[bytes]:
        if isinstance(data, bytes | bytearray | memoryview):
            view = memoryview(data)
            for start in range(0, len(view), self.chunk_size):
                yield bytes(view[start : start + self.chunk_size])
        elif isinstance(data, os.PathLike):
            handle = await self._run(_open_binary, data)
            try:
                while chunk := await self._run(handle.read, self.chunk_size):
                    yield chunk
            finally:
                await self._run(handle.close)
        elif isinstance(data, AsyncIterable):
            async for chunk in data:
                if chunk:
                    yield bytes(chunk)
        else:
            raise TypeError(
                "data must be bytes, an async iterable of bytes or a path (os.PathLike)"
            )

    @staticmethod
    def _source_size(data: Source, size: int | None) -> int | None:
        if isinstance(data, bytes | bytearray | memoryview):
            actual = len(data)
            if size is not None and size != actual:
                raise SizeMismatch(f"expected {size} bytes, got {actual}")
            return actual
        if isinstance(data, os.PathLike) and size is None:
            return os.stat(data).st_size
        return size

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def __aenter__(self) -> ObjectStore:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()

    # --- operations -------------------------------------------------------------------------

    @abstractmethod
    async def ensure_buckets(self) -> None:
        """Create the three buckets if missing (the raw one write-once where supported)."""

    @abstractmethod
    async def check(self) -> None:
        """Raise `StoreUnavailable` unless the store answers (for /readyz)."""

    @abstractmethod
    async def put(
        self,
        bucket: str,
        key: str,
        data: Source,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Store an object, streaming; returns its size, etag and sha256 (computed on the
        way). If `size` is given and the data differ in length, nothing is stored."""

    @abstractmethod
    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's description, or None if there is no such object."""

    @abstractmethod
    async def open_read(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> ObjectReader:
        """Open the object (or a range) for reading; `ObjectNotFound` if it does not exist."""

    @abstractmethod
    async def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        """Delete (idempotent). With a version id, that version; `ObjectLocked` if refused."""

    @abstractmethod
    async def copy(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str
    ) -> ObjectInfo:
        """Server-side copy; `ObjectNotFound` if the source does not exist."""

    @abstractmethod
    def list(self, bucket: str, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, recursively, in key order."""

    async def exists(self, bucket: str, key: str) -> bool:
        return await self.stat(bucket, key) is not None

    async def get_bytes(self, bucket: str, key: str, *, max_size: int = 64 * MiB) -> bytes:
        """A small object whole (provenance documents, previews); `StorageError` if larger."""
        reader = await self.open_read(bucket, key)
        if reader.length > max_size:
            await reader.aclose()
            raise StorageError(f"object of {reader.length} bytes is larger than {max_size}")
        return await reader.read_all()

    # --- direct uploads and downloads (S3 only) ----------------------------------------------

    async def presigned_put(
        self, bucket: str, key: str, expires: dt.timedelta | int | float
    ) -> str:
        raise UnsupportedOperation(
            "this store has no presigned URLs: the server's own upload endpoint is used"
        )

    async def presigned_part_url(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        expires: dt.timedelta | int | float,
    ) -> str:
        raise UnsupportedOperation(
            "this store has no presigned URLs: the server's own upload endpoint is used"
        )

    async def presigned_get(
        self,
        bucket: str,
        key: str,
        expires: dt.timedelta | int | float,
        filename: str | None = None,
    ) -> str:
        raise UnsupportedOperation(
            "this store has no presigned URLs: the server streams downloads itself"
        )

    # --- multipart lifecycle -----------------------------------------------------------------

    @abstractmethod
    async def create_multipart(
        self,
        bucket: str,
        key: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        """Start a multipart upload; returns its upload id."""

    @abstractmethod
    async def write_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        data: Source,
        size: int | None = None,
    ) -> PartInfo:
        """Store one part (local store; S3 clients PUT to `presigned_part_url` instead)."""

    @abstractmethod
    async def list_parts(self, bucket: str, key: str, upload_id: str) -> PartList:
        """The parts uploaded so far, by part number."""

    @abstractmethod
    async def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[PartRef]
    ) -> ObjectInfo:
        """Assemble the listed parts, in order, into the object."""

    @abstractmethod
    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Drop the upload and its parts. Idempotent: an unknown upload is not an error (S3
        servers differ there: SeaweedFS accepts a second abort, refuses a made-up id)."""


# --------------------------------------------------------------------------------------------
# Local directory (embedded mode)


def _open_binary(path: os.PathLike[str]) -> IO[bytes]:
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _HashingWriter:
    """A temporary file being written, hashed on the way (runs in the store's threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed by finish/discard
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.handle.write(chunk)
        self.size += len(chunk)

    def finish(self, fsync: bool) -> int:
        self.handle.flush()
        if fsync:
            os.fsync(self.handle.fileno())
        inode = os.fstat(self.handle.fileno()).st_ino
        self.handle.close()
        return inode

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            self.path.unlink()


class LocalObjectStore(ObjectStore):
    """Objects as files under `root/<bucket>/<key>`; internals under `root/.satreps/`.

    Writes go to a temporary file on the same file system, are fsynced and renamed into
    place, so a reader sees the old object or the new one, never a part. A sidecar JSON
    (`.satreps/meta/<bucket>/<key>.json`) keeps sha256, content type and metadata; it is
    trusted only while it names the data file's inode and size. Object lock is not
    supported (`supports_object_lock` stays False). A key cannot be both an object and a
    prefix of another (`a` and `a/b`): that raises `KeyConflict`.
    """

    def __init__(
        self,
        root: Path,
        buckets: Buckets | None = None,
        *,
        max_workers: int = 4,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        min_part_size: int = MIN_PART_SIZE,
        fsync: bool = True,
    ) -> None:
        super().__init__(buckets or Buckets(), max_workers=max_workers, chunk_size=chunk_size)
        self.root = Path(root)
        self.min_part_size = min_part_size
        self.fsync = fsync
        self._internal = self.root / ".satreps"
        self._tmp = self._internal / "tmp"
        self._meta = self._internal / "meta"
        self._uploads = self._internal / "uploads"

    # --- paths ------------------------------------------------------------------------------

    def _path(self, bucket: str, key: str) -> Path:
        check_bucket(bucket)
        check_key(key)
        base = self.root / bucket
        path = base.joinpath(*key.split("/"))
        if base not in path.parents:  # belt and braces: check_key already refused escapes
            raise ValueError("key escapes its bucket")
        return path

    def _meta_path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        return self._meta.joinpath(bucket, *parts[:-1], parts[-1] + ".json")

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, NotADirectoryError | IsADirectoryError | FileExistsError):
            return KeyConflict("key clashes with another key used as a prefix (local store)")
        if isinstance(exc, OSError):
            return StorageError(f"local store: {exc}")
        return exc

    # --- sync helpers (run in the pool) -------------------------------------------------------

    def _new_writer(self) -> _HashingWriter:
        self._tmp.mkdir(parents=True, exist_ok=True)
        return _HashingWriter(self._tmp / f"{uuid.uuid4().hex}.tmp")

    def _commit(
        self,
        writer: _HashingWriter,
        bucket: str,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str],
        sha256: str | None = None,
    ) -> ObjectInfo:
        inode = writer.finish(self.fsync)
        digest = sha256 or writer.hash.hexdigest()
        path = self._path(bucket, key)
        if path.is_dir():
            writer.discard()
            raise KeyConflict(f"{key!r} is a prefix of other keys (local store)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(writer.path, path)
        except BaseException:
            writer.discard()
            raise
        if self.fsync:
            _fsync_dir(path.parent)
        sidecar = {
            "inode": inode,
            "size": writer.size,
            "sha256": digest,
            "content_type": content_type,
            "metadata": dict(metadata),
        }
        meta_path = self._meta_path(bucket, key)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = meta_path.with_name(f".{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(sidecar))
        os.replace(tmp, meta_path)
        return self._info(bucket, key, path.stat(), sidecar)

    def _info(
        self, bucket: str, key: str, st: os.stat_result, sidecar: dict[str, Any] | None
    ) -> ObjectInfo:
        modified = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC)
        if sidecar and sidecar.get("inode") == st.st_ino and sidecar.get("size") == st.st_size:
            return ObjectInfo(
                bucket=bucket,
                key=key,
                size=st.st_size,
                etag=str(sidecar["sha256"])[:32],
                sha256=sidecar["sha256"],
                content_type=sidecar.get("content_type"),
                last_modified=modified,
                metadata=dict(sidecar.get("metadata") or {}),
            )
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=st.st_size,
            etag=f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}",
            last_modified=modified,
        )

    def _read_sidecar(self, bucket: str, key: str) -> dict[str, Any] | None:
        try:
            value = json.loads(self._meta_path(bucket, key).read_text())
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def _stat_sync(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._path(bucket, key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        return self._info(bucket, key, st, self._read_sidecar(bucket, key))

    def _check_bucket_exists(self, bucket: str) -> None:
        if not (self.root / check_bucket(bucket)).is_dir():
            raise BucketNotFound(f"bucket {bucket!r} does not exist")

    # --- operations -------------------------------------------------------------------------

    async def ensure_buckets(self) -> None:
        def make() -> None:
            for name in self.buckets.all():
                (self.root / name).mkdir(parents=True, exist_ok=True)
            for path in (self._tmp, self._meta, self._uploads):
                path.mkdir(parents=True, exist_ok=True)

        await self._run(make)
        self.supports_object_lock = False
        log.info("local object store at %s (no object lock: raw objects are not WORM)", self.root)

    async def check(self) -> None:
        def probe() -> None:
            if not os.access(self.root, os.W_OK):
                raise StoreUnavailable(f"local object store {self.root} is not writable")

        await self._run(probe)

    async def put(
        self,
        bucket: str,
        key: str,
        data: Source,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        self._path(bucket, key)
        meta = check_metadata(metadata)
        size = self._source_size(data, size)
        await self._run(self._check_bucket_exists, bucket)
        writer = await self._run(self._new_writer)
        try:
            if isinstance(data, bytes | bytearray | memoryview):
                await self._run(writer.write, bytes(data))
            else:
                async for chunk in self._iter_source(data):
                    await self._run(writer.write, chunk)
            if size is not None and writer.size != size:
                raise SizeMismatch(f"expected {size} bytes, got {writer.size}")
            return await self._run(self._commit, writer, bucket, key, content_type, meta)
        except BaseException:
            await asyncio.shield(self._run(writer.discard))
            raise

    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        return await self._run(self._stat_sync, bucket, key)

    async def open_read(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> ObjectReader:
        path = self._path(bucket, key)

        def open_file() -> tuple[IO[bytes], ObjectInfo]:
            try:
                handle = open(path, "rb")  # noqa: SIM115 - closed by the reader
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise ObjectNotFound(f"{bucket}/{key} does not exist") from None
            st = os.fstat(handle.fileno())
            return handle, self._info(bucket, key, st, self._read_sidecar(bucket, key))

        handle, info = await self._run(open_file)
        try:
            count = _range(info.size, offset, length)
            if offset:
                await self._run(handle.seek, offset)
        except BaseException:
            handle.close()
            raise

        async def chunks() -> AsyncIterator[bytes]:
            remaining = count
            while remaining > 0:
                chunk = await self._run(handle.read, min(self.chunk_size, remaining))
                if not chunk:
                    raise StorageError(f"{bucket}/{key} was truncated while being read")
                remaining -= len(chunk)
                yield chunk

        async def release() -> None:
            await self._run(handle.close)

        return ObjectReader(info, offset, count, chunks(), release)

    async def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        if version_id is not None:
            raise UnsupportedOperation("the local store keeps no object versions")
        path = self._path(bucket, key)

        def remove() -> None:
            for target in (path, self._meta_path(bucket, key)):
                with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                    target.unlink()
            self._prune(path.parent, self.root / bucket)

        await self._run(remove)

    @staticmethod
    def _prune(directory: Path, stop: Path) -> None:
        """Remove empty directories from `directory` up to (not including) `stop`."""
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    async def copy(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str
    ) -> ObjectInfo:
        source = self._path(src_bucket, src_key)
        self._path(dst_bucket, dst_key)

        def copy_sync() -> ObjectInfo:
            self._check_bucket_exists(dst_bucket)
            sidecar = self._read_sidecar(src_bucket, src_key)
            writer = self._new_writer()
            try:
                try:
                    src = open(source, "rb")  # noqa: SIM115
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    raise ObjectNotFound(f"{src_bucket}/{src_key} does not exist") from None
                with src:
                    while chunk := src.read(self.chunk_size):
                        writer.write(chunk)
                return self._commit(
                    writer,
                    dst_bucket,
                    dst_key,
                    (sidecar or {}).get("content_type"),
                    (sidecar or {}).get("metadata") or {},
                )
            except BaseException:
                writer.discard()
                raise

        return await self._run(copy_sync)

    async def list(self, bucket: str, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        check_bucket(bucket)
        base = self.root / bucket
        directory, _, _ = prefix.rpartition("/")
        if directory:
            check_key(directory)

        def walk() -> list[ObjectInfo]:
            self._check_bucket_exists(bucket)
            start = base.joinpath(*directory.split("/")) if directory else base
            found: list[ObjectInfo] = []
            for dirpath, _dirs, files in os.walk(start):
                for name in files:
                    path = Path(dirpath) / name
                    key = path.relative_to(base).as_posix()
                    if key.startswith(prefix):
                        with contextlib.suppress(FileNotFoundError):
                            found.append(
                                self._info(
                                    bucket, key, path.stat(), self._read_sidecar(bucket, key)
                                )
                            )
            found.sort(key=lambda info: info.key.encode("utf-8"))
            return found

        for info in await self._run(walk):
            yield info

    # --- multipart (staged in .satreps/uploads/<upload_id>/) ---------------------------------

    def _upload_dir(self, bucket: str, key: str, upload_id: str) -> Path:
        if not isinstance(upload_id, str) or not _UPLOAD_ID_RE.match(upload_id):
            raise UploadNotFound("no such multipart upload")
        directory = self._uploads / upload_id
        try:
            manifest = json.loads((directory / "manifest.json").read_text())
        except (OSError, ValueError):
            raise UploadNotFound("no such multipart upload") from None
        if manifest.get("bucket") != bucket or manifest.get("key") != key:
            raise UploadNotFound("no such multipart upload for this bucket and key")
        return directory

    @staticmethod
    def _parts_sync(directory: Path) -> dict[int, tuple[Path, str, int]]:
        parts: dict[int, tuple[Path, str, int]] = {}
        for path in directory.glob("part-*"):
            _, number, etag = path.name.split("-", 2)
            with contextlib.suppress(FileNotFoundError):
                parts[int(number)] = (path, etag, path.stat().st_size)
        return parts

    async def create_multipart(
        self,
        bucket: str,
        key: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        self._path(bucket, key)
        meta = check_metadata(metadata)
        upload_id = uuid.uuid4().hex

        def create() -> None:
            self._check_bucket_exists(bucket)
            directory = self._uploads / upload_id
            directory.mkdir(parents=True)
            manifest = {
                "bucket": bucket,
                "key": key,
                "content_type": content_type,
                "metadata": meta,
                "created": time.time(),
            }
            (directory / "manifest.json").write_text(json.dumps(manifest))

        await self._run(create)
        return upload_id

    async def write_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        data: Source,
        size: int | None = None,
    ) -> PartInfo:
        _check_part_number(part_number)
        size = self._source_size(data, size)
        directory = await self._run(self._upload_dir, bucket, key, upload_id)
        writer = await self._run(_HashingWriter, directory / f"tmp-{uuid.uuid4().hex}")
        try:
            async for chunk in self._iter_source(data):
                await self._run(writer.write, chunk)
            if size is not None and writer.size != size:
                raise SizeMismatch(f"expected {size} bytes, got {writer.size}")
            if writer.size > MAX_PART_SIZE:
                raise InvalidPart(f"a part may hold at most {MAX_PART_SIZE} bytes")

            def place() -> PartInfo:
                writer.finish(self.fsync)
                etag = writer.hash.hexdigest()[:32]
                final = directory / f"part-{part_number:05d}-{etag}"
                os.replace(writer.path, final)
                for other in directory.glob(f"part-{part_number:05d}-*"):
                    if other != final:
                        with contextlib.suppress(FileNotFoundError):
                            other.unlink()
                return PartInfo(part_number, etag, writer.size)

            return await self._run(place)
        except BaseException:
            await asyncio.shield(self._run(writer.discard))
            raise

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> PartList:
        def parts() -> PartList:
            directory = self._upload_dir(bucket, key, upload_id)
            found = self._parts_sync(directory)
            return [PartInfo(n, etag, size) for n, (_, etag, size) in sorted(found.items())]

        return await self._run(parts)

    async def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[PartRef]
    ) -> ObjectInfo:
        self._path(bucket, key)
        wanted = _normalise_parts(parts)

        def complete() -> ObjectInfo:
            directory = self._upload_dir(bucket, key, upload_id)
            manifest = json.loads((directory / "manifest.json").read_text())
            stored = self._parts_sync(directory)
            files: list[Path] = []
            for index, (number, etag) in enumerate(wanted):
                if number not in stored or stored[number][1] != etag:
                    raise InvalidPart(f"part {number} was not uploaded with etag {etag}")
                if index < len(wanted) - 1 and stored[number][2] < self.min_part_size:
                    raise InvalidPart(
                        f"part {number} is smaller than {self.min_part_size} bytes"
                        " (only the last part may be)"
                    )
                files.append(stored[number][0])
            writer = self._new_writer()
            try:
                for path in files:
                    with open(path, "rb") as src:
                        while chunk := src.read(self.chunk_size):
                            writer.write(chunk)
                info = self._commit(
                    writer,
                    bucket,
                    key,
                    manifest.get("content_type"),
                    manifest.get("metadata") or {},
                )
            except BaseException:
                writer.discard()
                raise
            shutil.rmtree(directory, ignore_errors=True)
            return info

        return await self._run(complete)

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        def abort() -> None:
            with contextlib.suppress(UploadNotFound):
                directory = self._upload_dir(bucket, key, upload_id)
                shutil.rmtree(directory, ignore_errors=True)

        await self._run(abort)

    async def purge_stale_uploads(self, older_than: dt.timedelta) -> int:
        """Remove multipart uploads started longer ago than `older_than` (and stray
        temporary files); returns how many uploads went. For a periodic job."""
        limit = time.time() - older_than.total_seconds()

        def purge() -> int:
            removed = 0
            for directory in self._uploads.glob("*"):
                manifest = directory / "manifest.json"
                try:
                    created = json.loads(manifest.read_text()).get("created", 0)
                except (OSError, ValueError):
                    created = directory.stat().st_mtime
                if created < limit:
                    shutil.rmtree(directory, ignore_errors=True)
                    removed += 1
            for tmp in self._tmp.glob("*.tmp"):
                with contextlib.suppress(OSError):
                    if tmp.stat().st_mtime < limit:
                        tmp.unlink()
            return removed

        return await self._run(purge)


# --------------------------------------------------------------------------------------------
# S3 through the minio SDK


_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "XMinioServerNotInitialized",
    }
)
_PART_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
_LOCK_UNSUPPORTED_CODES = frozenset(
    {
        "NotImplemented",
        "InvalidRequest",
        "InvalidArgument",
        "MethodNotAllowed",
        "InvalidBucketState",
    }
)


class _MinioMultipart:
    """The only place that touches the minio SDK's private multipart methods.

    Why: minio 7.2 has no public API for the steps of a multipart upload (it drives them
    inside `put_object`), but the upload flow needs them separately: the server creates the
    upload, clients PUT parts to presigned URLs, the server lists and completes (or aborts).
    The private methods are thin wrappers of the S3 calls; if a minio release renames them,
    only this class changes (the test suite exercises all of them against SeaweedFS).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, bucket: str, key: str, headers: dict[str, str]) -> str:
        return str(self._client._create_multipart_upload(bucket, key, dict(headers)))

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> str:
        return str(self._client._upload_part(bucket, key, data, None, upload_id, part_number))

    def list_parts(self, bucket: str, key: str, upload_id: str) -> PartList:
        parts: PartList = []
        marker: str | None = None
        while True:
            result = self._client._list_parts(
                bucket, key, upload_id, max_parts=1000, part_number_marker=marker
            )
            for part in result.parts:
                parts.append(PartInfo(part.part_number, part.etag, part.size or 0))
            if not result.is_truncated or not result.next_part_number_marker:
                return parts
            marker = result.next_part_number_marker

    def complete(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> Any:
        from minio.datatypes import Part

        listed = [Part(number, etag) for number, etag in parts]
        return self._client._complete_multipart_upload(bucket, key, upload_id, listed)

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        self._client._abort_multipart_upload(bucket, key, upload_id)


def _user_metadata(headers: Mapping[str, str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if lowered.startswith("x-amz-meta-"):
            result[lowered[len("x-amz-meta-") :]] = value
    return result


def _put_headers(content_type: str | None, metadata: Mapping[str, str]) -> dict[str, str]:
    headers = {"Content-Type": content_type or "application/octet-stream"}
    headers.update({f"x-amz-meta-{k}": v for k, v in metadata.items()})
    return headers


def _http_date(value: str) -> dt.datetime | None:
    """An HTTP date header as an aware datetime (None if unparsable)."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


class S3ObjectStore(ObjectStore):
    """S3-compatible storage (MinIO, SeaweedFS, AWS) through the minio SDK.

    Every SDK call runs in this store's own pool of `max_workers` threads (default 8: the
    SDK blocks on the network, and SeaweedFS is CPU-bound near 95 MB/s per PUT stream, so a
    few threads saturate it). An `ObjectReader` holds its HTTP connection until it is
    exhausted or closed: close readers you abandon. `put` streams: parts of `part_size` bytes
    are uploaded while the next one fills (at most about two parts in memory).
    """

    supports_presigned: ClassVar[bool] = True

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        secure: bool = True,
        region: str = "us-east-1",
        buckets: Buckets | None = None,
        raw_retention_days: int = 365,
        max_workers: int = 8,
        part_size: int = DEFAULT_PART_SIZE,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 3,
    ) -> None:
        import certifi
        import urllib3
        from minio import Minio

        super().__init__(buckets or Buckets(), max_workers=max_workers, chunk_size=chunk_size)
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE}")
        if raw_retention_days < 0:
            raise ValueError("raw_retention_days must not be negative")
        self.endpoint = endpoint
        self.region = region
        self.part_size = part_size
        self.raw_retention_days = raw_retention_days
        self._http = urllib3.PoolManager(
            num_pools=4,
            # Open readers keep their connection between chunks while the thread is free
            # again, so keep more idle connections than threads; never block (deadlock).
            maxsize=max(2 * max_workers, 16),
            block=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries,
                connect=retries,
                read=retries,
                backoff_factor=0.2,
                status_forcelist=[500, 502, 503, 504],
            ),
        )
        # A fixed region keeps the SDK from asking the server for the bucket location, so
        # presigning is pure computation.
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=self._http,
        )
        self._multipart = _MinioMultipart(self._client)

    def close(self) -> None:
        super().close()
        self._http.clear()

    def _translate(self, exc: BaseException) -> BaseException:
        import urllib3
        from minio.error import InvalidResponseError, S3Error, ServerError

        if isinstance(exc, S3Error):
            code, message = exc.code or "", exc.message or ""
            where = f"{exc.bucket_name or ''}/{exc.object_name or ''}".strip("/")
            if code in _NOT_FOUND_CODES:
                return ObjectNotFound(f"{where} does not exist")
            if code == "NoSuchBucket":
                return BucketNotFound(f"bucket {exc.bucket_name!r} does not exist")
            if code == "NoSuchUpload":
                return UploadNotFound("no such multipart upload")
            if code in _PART_CODES:
                return InvalidPart(f"{code}: {message}")
            if code == "InvalidRange":
                return InvalidRange(message or "requested range is not satisfiable")
            if code == "ObjectLocked":
                return ObjectLocked(message or f"{where} is locked")
            if code in _TRANSIENT_CODES:
                return StoreUnavailable(f"S3 {code}: {message}")
            return StorageError(f"S3 {code}: {message} ({where})")
        if isinstance(exc, ServerError):
            return StoreUnavailable(f"S3 server error: {exc}")
        if isinstance(exc, InvalidResponseError):
            status = getattr(exc, "_code", 0) or 0
            if status >= 500 or status == 429:
                return StoreUnavailable(f"S3 answered {status}")
            return StorageError(f"unexpected S3 response: {exc}")
        if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
            return StoreUnavailable(f"S3 endpoint {self.endpoint} unavailable: {exc}")
        return exc

    # --- buckets ----------------------------------------------------------------------------

    def _ensure_sync(self) -> bool:
        from minio.error import S3Error
        from minio.objectlockconfig import DAYS, GOVERNANCE, ObjectLockConfig

        client = self._client
        lock = False
        for name in self.buckets.all():
            is_raw = name == self.buckets.raw
            created = False
            if not client.bucket_exists(name):
                try:
                    client.make_bucket(name, object_lock=is_raw)
                    created = True
                except S3Error as exc:
                    if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        pass  # another replica was faster
                    elif is_raw and exc.code in _LOCK_UNSUPPORTED_CODES:
                        log.warning(
                            "object lock not supported by %s (%s): raw bucket %s is not WORM",
                            self.endpoint,
                            exc.code,
                            name,
                        )
                        client.make_bucket(name)
                        created = True
                    else:
                        raise
            if not is_raw:
                continue
            try:
                config = client.get_object_lock_config(name)
                lock = True
            except S3Error as exc:
                log.warning(
                    "raw bucket %s has no object lock (%s): raw objects are not write-once",
                    name,
                    exc.code,
                )
                continue
            if self.raw_retention_days and (created or config.mode is None):
                try:
                    client.set_object_lock_config(
                        name, ObjectLockConfig(GOVERNANCE, self.raw_retention_days, DAYS)
                    )
                except S3Error as exc:
                    log.warning("could not set default retention on %s: %s", name, exc.code)
        return lock

    async def ensure_buckets(self) -> None:
        self.supports_object_lock = await self._run(self._ensure_sync)

    async def check(self) -> None:
        exists = await self._run(self._client.bucket_exists, self.buckets.raw)
        if not exists:
            raise BucketNotFound(f"bucket {self.buckets.raw!r} does not exist")

    # --- objects ----------------------------------------------------------------------------

    def _object_info(self, bucket: str, key: str, obj: Any) -> ObjectInfo:
        metadata = _user_metadata(obj.metadata)
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(obj.size or 0),
            etag=(obj.etag or "").strip('"'),
            sha256=metadata.get("sha256"),
            content_type=obj.content_type,
            last_modified=obj.last_modified,
            version_id=obj.version_id,
            metadata=metadata,
        )

    def _put_small(
        self, bucket: str, key: str, data: bytes, content_type: str | None, meta: dict[str, str]
    ) -> ObjectInfo:
        digest = hashlib.sha256(data).hexdigest()
        result = self._client.put_object(
            bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type or "application/octet-stream",
            metadata=cast(Any, meta) or None,
        )
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=len(data),
            etag=(result.etag or "").strip('"'),
            sha256=digest,
            content_type=content_type or "application/octet-stream",
            version_id=result.version_id,
            metadata=meta,
        )

    async def put(
        self,
        bucket: str,
        key: str,
        data: Source,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        check_bucket(bucket)
        check_key(key)
        meta = check_metadata(metadata)
        size = self._source_size(data, size)
        if isinstance(data, bytes | bytearray | memoryview) and len(data) <= self.part_size:
            return await self._run(self._put_small, bucket, key, bytes(data), content_type, meta)
        part_size = self.part_size
        if size is not None and size > part_size * MAX_PARTS:
            part_size = -(-size // (MAX_PARTS * MiB)) * MiB  # whole MiB, at most MAX_PARTS
            if part_size > MAX_PART_SIZE:
                raise StorageError(f"object of {size} bytes is too large for S3")
        if isinstance(data, os.PathLike) and size is not None and size > part_size:
            return await self._put_file(bucket, key, data, size, part_size, content_type, meta)

        hasher = hashlib.sha256()
        buffer = bytearray()
        total = 0
        upload_id: str | None = None
        etags: list[tuple[int, str]] = []
        pending: asyncio.Future[str] | None = None

        async def flush(part: bytes) -> None:
            nonlocal upload_id, pending
            await self._run(hasher.update, part)
            if upload_id is None:
                upload_id = await self._run(
                    self._multipart.create, bucket, key, _put_headers(content_type, meta)
                )
            if pending is not None:
                etags.append((len(etags) + 1, await pending))
            number = len(etags) + 1
            if number > MAX_PARTS:
                raise StorageError(f"more than {MAX_PARTS} parts of {part_size} bytes")
            pending = asyncio.ensure_future(
                self._run(self._multipart.upload_part, bucket, key, upload_id, number, part)
            )

        try:
            async for chunk in self._iter_source(data):
                buffer += chunk
                total += len(chunk)
                if size is not None and total > size:
                    raise SizeMismatch(f"expected {size} bytes, got more")
                while len(buffer) >= part_size:
                    with memoryview(buffer) as view:
                        part = bytes(view[:part_size])
                    del buffer[:part_size]
                    await flush(part)
            if size is not None and total != size:
                raise SizeMismatch(f"expected {size} bytes, got {total}")
            if upload_id is None:
                return await self._run(
                    self._put_small, bucket, key, bytes(buffer), content_type, meta
                )
            if buffer:
                await flush(bytes(buffer))
                buffer.clear()
            if pending is not None:
                etags.append((len(etags) + 1, await pending))
                pending = None
            result = await self._run(self._multipart.complete, bucket, key, upload_id, etags)
        except BaseException:
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(pending)
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._run(self._multipart.abort, bucket, key, upload_id))
            raise
        return _assembled(bucket, key, total, result, hasher.hexdigest(), content_type, meta)

    async def _put_file(
        self,
        bucket: str,
        key: str,
        path: os.PathLike[str],
        size: int,
        part_size: int,
        content_type: str | None,
        meta: dict[str, str],
    ) -> ObjectInfo:
        """A local file, part by part: each part is read and sent by one pool thread, so a
        single part is in memory at a time (not a buffer, a part and a part in flight)."""
        hasher = hashlib.sha256()

        def send(number: int, offset: int) -> str:
            with open(path, "rb") as fh:
                fh.seek(offset)
                part = fh.read(part_size)
            if len(part) != min(part_size, size - offset):
                raise SizeMismatch(f"{path} shrank below {size} bytes while being stored")
            hasher.update(part)
            return self._multipart.upload_part(bucket, key, upload_id, number, part)

        upload_id: str = await self._run(
            self._multipart.create, bucket, key, _put_headers(content_type, meta)
        )
        try:
            etags = [
                (number, await self._run(send, number, offset))
                for number, offset in enumerate(range(0, size, part_size), start=1)
            ]
            if os.stat(path).st_size != size:
                raise SizeMismatch(f"{path} changed size while being stored")
            result = await self._run(self._multipart.complete, bucket, key, upload_id, etags)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._run(self._multipart.abort, bucket, key, upload_id))
            raise
        return _assembled(bucket, key, size, result, hasher.hexdigest(), content_type, meta)

    async def stat(self, bucket: str, key: str) -> ObjectInfo | None:
        check_bucket(bucket)
        check_key(key)
        try:
            obj = await self._run(self._client.stat_object, bucket, key)
        except ObjectNotFound:
            return None
        return self._object_info(bucket, key, obj)

    async def open_read(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> ObjectReader:
        check_bucket(bucket)
        check_key(key)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        if length == 0:  # minio reads "length 0" as "to the end"
            info = await self.stat(bucket, key)
            if info is None:
                raise ObjectNotFound(f"{bucket}/{key} does not exist")
            _range(info.size, offset, 0)
            return ObjectReader(info, offset, 0, _no_chunks(), _nothing)
        response = await self._run(
            self._client.get_object, bucket, key, offset=offset, length=length or 0
        )
        headers = response.headers
        served = int(headers.get("content-length", "0"))
        total = served
        content_range = headers.get("content-range")
        if content_range and "/" in content_range:
            with contextlib.suppress(ValueError):
                total = int(content_range.rsplit("/", 1)[1])
        modified = headers.get("last-modified")
        metadata = _user_metadata(headers)
        info = ObjectInfo(
            bucket=bucket,
            key=key,
            size=total,
            etag=(headers.get("etag") or "").strip('"'),
            sha256=metadata.get("sha256"),
            content_type=headers.get("content-type"),
            last_modified=_http_date(modified) if modified else None,
            version_id=headers.get("x-amz-version-id"),
            metadata=metadata,
        )

        async def chunks() -> AsyncIterator[bytes]:
            remaining = served
            while remaining > 0:
                chunk = await self._run(response.read, min(self.chunk_size, remaining))
                if not chunk:
                    raise StoreUnavailable(f"{bucket}/{key}: connection ended early")
                remaining -= len(chunk)
                yield chunk

        def release_sync() -> None:
            response.close()
            response.release_conn()

        async def release() -> None:
            await self._run(release_sync)

        return ObjectReader(info, offset, served, chunks(), release)

    async def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        check_bucket(bucket)
        check_key(key)
        try:
            await self._run(self._client.remove_object, bucket, key, version_id=version_id)
        except StorageError as exc:
            # A locked version answers 403 AccessDenied on SeaweedFS, ObjectLocked elsewhere.
            if version_id is not None and "AccessDenied" in str(exc):
                raise ObjectLocked(f"{bucket}/{key} version {version_id} is locked") from exc
            raise

    async def copy(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str
    ) -> ObjectInfo:
        from minio.commonconfig import CopySource

        for bucket, key in ((src_bucket, src_key), (dst_bucket, dst_key)):
            check_bucket(bucket)
            check_key(key)
        await self._run(
            self._client.copy_object, dst_bucket, dst_key, CopySource(src_bucket, src_key)
        )
        info = await self.stat(dst_bucket, dst_key)
        if info is None:
            raise StorageError(f"{dst_bucket}/{dst_key} is missing right after the copy")
        return info

    async def list(self, bucket: str, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        check_bucket(bucket)
        objects = self._client.list_objects(bucket, prefix=prefix or None, recursive=True)

        def page() -> list[Any]:
            result = []
            for obj in objects:
                result.append(obj)
                if len(result) >= 1000:
                    break
            return result

        while batch := await self._run(page):
            for obj in batch:
                name = obj.object_name or ""
                if obj.is_dir or name.endswith("/"):
                    continue  # SeaweedFS lists emptied prefixes as "directories"
                yield ObjectInfo(
                    bucket=bucket,
                    key=name,
                    size=int(obj.size or 0),
                    etag=(obj.etag or "").strip('"'),
                    last_modified=obj.last_modified,
                    version_id=obj.version_id,
                )

    # --- presigned URLs (pure computation: the region is fixed) -----------------------------

    async def presigned_put(
        self, bucket: str, key: str, expires: dt.timedelta | int | float
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        return str(self._client.get_presigned_url("PUT", bucket, key, expires=_expires(expires)))

    async def presigned_part_url(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        expires: dt.timedelta | int | float,
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        _check_part_number(part_number)
        return str(
            self._client.get_presigned_url(
                "PUT",
                bucket,
                key,
                expires=_expires(expires),
                extra_query_params={"partNumber": str(part_number), "uploadId": upload_id},
            )
        )

    async def presigned_get(
        self,
        bucket: str,
        key: str,
        expires: dt.timedelta | int | float,
        filename: str | None = None,
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        response_headers = (
            {"response-content-disposition": content_disposition(filename)} if filename else None
        )
        return str(
            self._client.get_presigned_url(
                "GET",
                bucket,
                key,
                expires=_expires(expires),
                response_headers=cast(Any, response_headers),
            )
        )

    # --- multipart --------------------------------------------------------------------------

    async def create_multipart(
        self,
        bucket: str,
        key: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        headers = _put_headers(content_type, check_metadata(metadata))
        return await self._run(self._multipart.create, bucket, key, headers)

    async def write_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        data: Source,
        size: int | None = None,
    ) -> PartInfo:
        raise UnsupportedOperation(
            "S3 store: clients PUT parts to presigned_part_url(); write_part is for the local store"
        )

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> PartList:
        check_bucket(bucket)
        check_key(key)
        return await self._run(self._multipart.list_parts, bucket, key, upload_id)

    async def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[PartRef]
    ) -> ObjectInfo:
        check_bucket(bucket)
        check_key(key)
        wanted = _normalise_parts(parts)
        await self._run(self._multipart.complete, bucket, key, upload_id, wanted)
        info = await self.stat(bucket, key)
        if info is None:
            raise StorageError(f"{bucket}/{key} is missing right after completing its upload")
        return info

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        check_bucket(bucket)
        check_key(key)
        with contextlib.suppress(UploadNotFound):
            await self._run(self._multipart.abort, bucket, key, upload_id)


def _assembled(
    bucket: str,
    key: str,
    size: int,
    result: Any,
    sha256: str,
    content_type: str | None,
    meta: dict[str, str],
) -> ObjectInfo:
    """What a completed multipart upload stored."""
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=size,
        etag=(result.etag or "").strip('"'),
        sha256=sha256,
        content_type=content_type or "application/octet-stream",
        version_id=result.version_id,
        metadata=meta,
    )


def store_from_settings(settings: Settings) -> ObjectStore:
    """S3/MinIO when `s3_endpoint` is set, else the local directory `object_dir`."""
    buckets = Buckets(settings.bucket_raw, settings.bucket_artifacts, settings.bucket_provenance)
    if settings.s3_endpoint:
        return S3ObjectStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            buckets=buckets,
            raw_retention_days=settings.raw_retention_days,
            max_workers=settings.storage_workers,
        )
    return LocalObjectStore(settings.object_dir, buckets, max_workers=settings.storage_workers)
