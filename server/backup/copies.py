"""Where a snapshot keeps its copies of the objects: files under the backup directory (the
local store, or S3 without a backup bucket), or a second S3 bucket."""

from __future__ import annotations

import asyncio
import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path, PurePosixPath

from server.backup.errors import BackupError, BackupErrorCode
from server.storage import ObjectStore

CHUNK = 4 * 1024 * 1024


class Hashed:
    """Counts and hashes the chunks passing through it."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self.digest = hashlib.sha256()
        self.size = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


async def digest_of(chunks: AsyncIterable[bytes]) -> tuple[int, str]:
    hashed = Hashed(chunks)
    async for _ in hashed:
        pass
    return hashed.size, hashed.sha256


class Copies(ABC):
    @abstractmethod
    async def write(self, role: str, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Store one object's bytes; raises OBJECT_CORRUPT unless they read back the same."""

    @abstractmethod
    def read(self, role: str, key: str) -> AsyncIterator[bytes]:
        """The bytes of one copy (OBJECT_MISSING when there is none)."""

    def describe(self) -> dict[str, str]:
        return {}


class DirectoryCopies(Copies):
    """objects/<role>/<key> under the backup directory, fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, role: str, key: str) -> Path:
        parts = PurePosixPath(role, key).parts
        if any(part in ("", ".", "..") for part in parts) or PurePosixPath(key).is_absolute():
            raise BackupError(BackupErrorCode.NOT_A_BACKUP, f"unsafe object key {key!r}")
        return self.root.joinpath(*parts)

    async def write(self, role: str, key: str, chunks: AsyncIterable[bytes]) -> None:
        path = self._path(role, key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        handle = await asyncio.to_thread(path.open, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.flush)
            await asyncio.to_thread(os.fsync, handle.fileno())
        finally:
            await asyncio.to_thread(handle.close)

    async def read(self, role: str, key: str) -> AsyncIterator[bytes]:
        path = self._path(role, key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BackupError(
                BackupErrorCode.OBJECT_MISSING, f"no copy of {role}/{key} in {self.root}"
            ) from None
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(handle.close)


class BucketCopies(Copies):
    """<prefix>/<role>/<key> in a second bucket; every copy is read back and hashed."""

    def __init__(self, store: ObjectStore, bucket: str, prefix: str) -> None:
        self.store = store
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, role: str, key: str) -> str:
        return f"{self.prefix}/{role}/{key}"

    async def write(self, role: str, key: str, chunks: AsyncIterable[bytes]) -> None:
        hashed = Hashed(chunks)
        await self.store.put(self.bucket, self._key(role, key), hashed)
        size, sha = await digest_of(self.read(role, key))
        if (size, sha) != (hashed.size, hashed.sha256):
            raise BackupError(
                BackupErrorCode.OBJECT_CORRUPT,
                f"the copy of {role}/{key} in {self.bucket} reads back differently",
            )

    async def read(self, role: str, key: str) -> AsyncIterator[bytes]:
        if await self.store.stat(self.bucket, self._key(role, key)) is None:
            raise BackupError(
                BackupErrorCode.OBJECT_MISSING,
                f"no copy of {role}/{key} in bucket {self.bucket}",
            )
        async with await self.store.open_read(self.bucket, self._key(role, key)) as reader:
            async for chunk in reader:
                yield chunk

    def describe(self) -> dict[str, str]:
        return {"bucket": self.bucket, "prefix": self.prefix}
