"""The object store interface both stores implement, and the values it speaks in."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar, NamedTuple, TypeVar

from server.storage.errors import (
    InvalidPart,
    InvalidRange,
    SizeMismatch,
    StorageError,
    UnsupportedOperation,
)
from server.storage.keys import check_bucket

T = TypeVar("T")

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

DEFAULT_CHUNK_SIZE = 4 * MiB  # bounded size of the chunks `open_read` yields
DEFAULT_PART_SIZE = 16 * MiB  # FACTS.md: 16 MiB parts are as fast as 64 MiB on SeaweedFS
MIN_PART_SIZE = 5 * MiB  # S3: every part but the last
MAX_PART_SIZE = 5 * GiB
MAX_PARTS = 10_000
MAX_PRESIGN_SECONDS = 7 * 24 * 3600

# Sources `put` accepts: bytes, an async iterable of chunks, or a file path (os.PathLike; a
# plain str is refused, it would be ambiguous with data).
Source = bytes | bytearray | memoryview | AsyncIterable[bytes] | os.PathLike[str]


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
    # hex; the sha256 the store itself computed of the bytes and checked against the one
    # signed into their PUT (an S3 checksum, given by stat(..., checksum=True)); None when it
    # keeps none (a PUT without one, a multipart object, a store without checksums)
    store_sha256: str | None = None
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


def check_part_number(part_number: int) -> int:
    if not 1 <= part_number <= MAX_PARTS:
        raise ValueError(f"part number must be between 1 and {MAX_PARTS}")
    return part_number


def presign_expiry(expires: dt.timedelta | int | float) -> dt.timedelta:
    delta = expires if isinstance(expires, dt.timedelta) else dt.timedelta(seconds=expires)
    if not 1 <= delta.total_seconds() <= MAX_PRESIGN_SECONDS:
        raise ValueError("expiry must be between 1 second and 7 days")
    return delta


def normalise_parts(parts: Sequence[PartRef]) -> list[tuple[int, str]]:
    result = [(int(p[0]), str(p[1]).strip('"')) for p in parts]
    if not result:
        raise InvalidPart("a multipart upload needs at least one part")
    numbers = [n for n, _ in result]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise InvalidPart("parts must be listed in strictly ascending part-number order")
    for n in numbers:
        check_part_number(n)
    return result


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


def range_length(size: int, offset: int, length: int | None) -> int:
    """The number of bytes a read of (offset, length) serves; S3 semantics."""
    if offset < 0 or (length is not None and length < 0):
        raise ValueError("offset and length must not be negative")
    if offset > 0 and offset >= size:
        raise InvalidRange(f"offset {offset} is beyond the object's size {size}")
    remaining = size - offset
    return remaining if length is None else min(length, remaining)


def _open_binary(path: os.PathLike[str]) -> IO[bytes]:
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


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
    async def stat(self, bucket: str, key: str, *, checksum: bool = False) -> ObjectInfo | None:
        """The object's description, or None if there is no such object. With `checksum`,
        the store's own sha256 of its bytes too (`store_sha256`), where it keeps one."""

    @abstractmethod
    async def open_read(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> ObjectReader:
        """Open the object (or a range) for reading; `ObjectNotFound` if it does not exist."""

    @abstractmethod
    async def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        """Delete (idempotent). With a version id, that version; `ObjectLocked` if refused."""

    async def discard_quarantined(self, bucket: str, key: str) -> None:
        """Remove an infected raw object once its copy under the quarantine prefix is
        committed: the one removal write-once raw storage allows, for bytes that never
        became a dataset's file (an object lock on S3 keeps the locked version until its
        retention ends; the delete marker hides it)."""
        await self.delete(bucket, key)

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
        self,
        bucket: str,
        key: str,
        expires: dt.timedelta | int | float,
        sha256: str | None = None,
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

    # --- how a worker's readers reach an object ------------------------------------------------

    def local_file(self, bucket: str, key: str) -> Path | None:
        """The file that holds the object on this machine, where the store keeps one (the
        embedded store): readers that need a file read it in place instead of a copy. They
        never write it. None for a store without local files."""
        return None

    def range_signer(
        self, bucket: str, key: str, expires: dt.timedelta | int | float
    ) -> Callable[[], str] | None:
        """How a worker's readers get an HTTP URL serving the object's byte ranges (S3: a
        presigned GET, signed only when called, from any thread: most files are never read
        by range, and signing costs a fifth of a millisecond), or None where the store has
        none."""
        return None

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
