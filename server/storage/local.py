"""The local directory store of the embedded mode: atomic writes (temporary file + rename),
each object's metadata in an extended attribute of its file (a sidecar file where the file
system has none: server/storage/local_files.py), multipart uploads staged on disk, fed by
the server's own upload endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from stat import S_ISREG
from typing import IO

from server.storage.base import (
    DEFAULT_CHUNK_SIZE,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    Buckets,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    PartInfo,
    PartList,
    PartRef,
    Source,
    check_part_number,
    normalise_parts,
    range_length,
)
from server.storage.errors import (
    BucketNotFound,
    InvalidPart,
    KeyConflict,
    ObjectLocked,
    ObjectNotFound,
    SizeMismatch,
    StorageError,
    StorageFull,
    StoreUnavailable,
    UnsupportedOperation,
    UploadNotFound,
)
from server.storage.keys import check_bucket, check_key, check_metadata
from server.storage.local_files import (
    HashingWriter,
    Record,
    can_label,
    fsync_dir,
    object_info,
    read_label,
    read_sidecar,
    write_sidecar,
)
from server.storage.write_once import make_directories, place_once

log = logging.getLogger(__name__)

_UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
# a full file system, a full quota, a file over the process's size limit (RLIMIT_FSIZE)
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class LocalObjectStore(ObjectStore):
    """Objects as files under `root/<bucket>/<key>`; internals under `root/.satreps/`.

    Writes go to a temporary file on the same file system, are fsynced and renamed into
    place, so a reader sees the old object or the new one, never a part. The sha256, content
    type and metadata are a JSON record in the file's `user.satreps.meta` extended attribute,
    set before the fsync and trusted while it names the file's size. Where the file system
    cannot keep it (`xattrs` False, or the probe of `ensure_buckets` or the write failing),
    and for objects written before it, a sidecar JSON (`.satreps/meta/<bucket>/<key>.json`)
    keeps the record, trusted only while it names the file's inode and size. Object lock is not
    supported (`supports_object_lock` stays False), but the raw bucket is write-once through
    this API (`write_once`): files read-only on disk, no overwrite, no delete. A key cannot
    be both an object and a prefix of another (`a` and `a/b`): that raises `KeyConflict`.
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
        xattrs: bool = True,
    ) -> None:
        super().__init__(buckets or Buckets(), max_workers=max_workers, chunk_size=chunk_size)
        self.root = Path(root)
        self.min_part_size = min_part_size
        self.fsync = fsync
        self.xattrs = xattrs  # metadata in an attribute of the file, else in a sidecar
        self._internal = self.root / ".satreps"
        self._tmp = self._internal / "tmp"
        self._meta = self._internal / "meta"
        self._uploads = self._internal / "uploads"

    # --- paths ------------------------------------------------------------------------------

    def _path(self, bucket: str, key: str) -> Path:
        check_bucket(bucket)
        check_key(key)
        # one string, parsed once (joinpath and `path.parents` cost 50 us a call, and a put
        # finds its path four times); belt and braces: check_key already refused escapes
        base = f"{self.root / bucket}{os.sep}"  # as Path writes it ("." drops out, say)
        path = Path(base + key)
        if not str(path).startswith(base):
            raise ValueError("key escapes its bucket")
        return path

    def local_file(self, bucket: str, key: str) -> Path | None:
        path = self._path(bucket, key)
        return path if path.is_file() else None

    def _meta_path(self, bucket: str, key: str) -> Path:
        parts = key.split("/")
        return self._meta.joinpath(bucket, *parts[:-1], parts[-1] + ".json")

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, NotADirectoryError | IsADirectoryError | FileExistsError):
            return KeyConflict("key clashes with another key used as a prefix (local store)")
        if isinstance(exc, OSError) and exc.errno in NO_ROOM:
            return StorageFull(f"local store: no room left ({exc.strerror})")
        if isinstance(exc, OSError):
            return StorageError(f"local store: {exc}")
        return exc

    # --- sync helpers (run in the pool) -------------------------------------------------------

    def _new_writer(self) -> HashingWriter:
        self._tmp.mkdir(parents=True, exist_ok=True)
        return HashingWriter(self._tmp / f"{uuid.uuid4().hex}.tmp")

    def _commit(
        self,
        writer: HashingWriter,
        bucket: str,
        key: str,
        content_type: str | None,
        metadata: Mapping[str, str],
    ) -> ObjectInfo:
        path = self._path(bucket, key)
        if path.is_dir():
            writer.discard()
            raise KeyConflict(f"{key!r} is a prefix of other keys (local store)")
        meta_path = self._meta_path(bucket, key)
        sidecar: Path | None = None
        try:
            record = writer.record(content_type, metadata)
            if not writer.finish(self.fsync, json.dumps(record).encode() if self.xattrs else None):
                # written before the object is placed: a disk that fills up on it leaves
                # nothing under the key (a rename takes no room)
                sidecar = write_sidecar(meta_path, record)
            if bucket == self.buckets.raw:
                make_directories(path.parent)
                if not place_once(
                    writer.path, path, writer.size, record["sha256"], f"{bucket}/{key}"
                ):
                    if sidecar:
                        sidecar.unlink()
                    return self._info(bucket, key, path, path.stat())
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(writer.path, path)
        except BaseException:
            writer.discard()
            if sidecar:
                with contextlib.suppress(OSError):
                    sidecar.unlink()
            raise
        if self.fsync:
            fsync_dir(path.parent)
        if sidecar:
            os.replace(sidecar, meta_path)
        elif bucket != self.buckets.raw:  # the sidecar of an object this one replaced
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                meta_path.unlink()
        return object_info(bucket, key, path.stat(), record)

    def _record(
        self, bucket: str, key: str, target: int | Path, st: os.stat_result
    ) -> Record | None:
        """The object's metadata record (attribute first, then sidecar) while it fits the
        file `target` (a path or an open descriptor) whose stat is `st`."""
        label = read_label(target)
        if label is not None:
            return label if label.get("size") == st.st_size else None
        sidecar = read_sidecar(self._meta_path(bucket, key))
        if sidecar and sidecar.get("inode") == st.st_ino and sidecar.get("size") == st.st_size:
            return sidecar
        return None

    def _info(self, bucket: str, key: str, target: int | Path, st: os.stat_result) -> ObjectInfo:
        return object_info(bucket, key, st, self._record(bucket, key, target, st))

    def _stat_sync(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._path(bucket, key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not S_ISREG(st.st_mode):
            return None
        return self._info(bucket, key, path, st)

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
            self.xattrs = self.xattrs and can_label(self._tmp)

        await self._run(make)
        self.supports_object_lock = False
        log.info(
            "local object store at %s (raw objects read-only, write-once; metadata in %s)",
            self.root,
            "extended attributes" if self.xattrs else "sidecar files",
        )

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
        if isinstance(data, bytes | bytearray | memoryview):  # one trip to the store's threads
            return await self._run(
                self._put_bytes, bucket, key, bytes(data), size, content_type, meta
            )
        await self._run(self._check_bucket_exists, bucket)
        writer = await self._run(self._new_writer)
        try:
            async for chunk in self._iter_source(data):
                await self._run(writer.write, chunk)
            _check_size(writer.size, size)
            return await self._run(self._commit, writer, bucket, key, content_type, meta)
        except BaseException:
            await asyncio.shield(self._run(writer.discard))
            raise

    def _put_bytes(
        self,
        bucket: str,
        key: str,
        data: bytes,
        size: int | None,
        content_type: str | None,
        metadata: Mapping[str, str],
    ) -> ObjectInfo:
        self._check_bucket_exists(bucket)
        writer = self._new_writer()
        try:
            writer.write(data)
            _check_size(writer.size, size)
        except BaseException:
            writer.discard()
            raise
        return self._commit(writer, bucket, key, content_type, metadata)

    async def stat(self, bucket: str, key: str, *, checksum: bool = False) -> ObjectInfo | None:
        return await self._run(self._stat_sync, bucket, key)  # it keeps no store checksum

    async def open_read(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> ObjectReader:
        path = self._path(bucket, key)

        def open_file() -> tuple[IO[bytes], ObjectInfo]:
            try:
                handle = open(path, "rb")  # noqa: SIM115 - closed by the reader
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise ObjectNotFound(f"{bucket}/{key} does not exist") from None
            fd = handle.fileno()
            return handle, self._info(bucket, key, fd, os.fstat(fd))

        handle, info = await self._run(open_file)
        try:
            count = range_length(info.size, offset, length)
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
        if bucket == self.buckets.raw and await self.exists(bucket, key):
            raise ObjectLocked(f"{bucket}/{key}: raw objects are write-once (no delete)")
        await self._remove(bucket, key)

    async def discard_quarantined(self, bucket: str, key: str) -> None:
        await self._remove(bucket, key)  # write-once's one exception (base class)

    async def _remove(self, bucket: str, key: str) -> None:
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
            writer = self._new_writer()
            try:
                try:
                    src = open(source, "rb")  # noqa: SIM115
                except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                    raise ObjectNotFound(f"{src_bucket}/{src_key} does not exist") from None
                with src:
                    fd = src.fileno()
                    record = self._record(src_bucket, src_key, fd, os.fstat(fd)) or {}
                    while chunk := src.read(self.chunk_size):
                        writer.write(chunk)
                return self._commit(
                    writer,
                    dst_bucket,
                    dst_key,
                    record.get("content_type"),
                    record.get("metadata") or {},
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
                            found.append(self._info(bucket, key, path, path.stat()))
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
        check_part_number(part_number)
        size = self._source_size(data, size)
        directory = await self._run(self._upload_dir, bucket, key, upload_id)
        writer = await self._run(HashingWriter, directory / f"tmp-{uuid.uuid4().hex}")
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
        wanted = normalise_parts(parts)

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


def _check_size(written: int, declared: int | None) -> None:
    if declared is not None and written != declared:
        raise SizeMismatch(f"expected {declared} bytes, got {written}")
