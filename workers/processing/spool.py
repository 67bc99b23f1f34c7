"""A spool file that can be read while it is being written.

The pipeline downloads a raw object into a spool on local disk. For formats read front to
back (CSV, TSV) the parser need not wait for the download: `Spool.reader()` gives a
blocking file object that hands out bytes as soon as they are on disk and waits for more
until the writer closes the spool. The writer's `abort()` wakes every reader with
`SpoolAborted`, so a failed download or checksum never leaves a parser waiting.

Bytes go to disk unbuffered (the writer's chunks are already large), so a reader woken by
`write` finds them in the page cache. They are written by a thread of the spool's own: the
caller (the pipeline, hashing the download) hands a chunk over and goes on, so hashing and
writing overlap (writing into the page cache cost as much as the hash and the download
together here); at most `_QUEUED` chunks wait. A write that fails (ENOSPC, ...) is raised by
the next `write` or by `close`.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from pathlib import Path


class SpoolAborted(OSError):
    """The writer gave up (download failed, size or checksum wrong): stop reading."""


_QUEUED = 2
_END = b""


class Spool:
    def __init__(self, path: Path, size_hint: int | None = None) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._allocated = 0
        if size_hint:
            # the file's blocks reserved at once: writing into them cost a third to a half of
            # the CPU of writes that allocate as they go (1 GiB on ext4 here); a full disk
            # fails here, before a byte is downloaded
            try:
                os.posix_fallocate(self._fd, 0, size_hint)
            except OSError:
                os.close(self._fd)
                path.unlink(missing_ok=True)
                raise
            self._allocated = size_hint
        self._size = 0
        self._closing = False  # no more writes
        self._closed = False  # every byte written, the file closed
        self._aborted: str | None = None
        self._failed: OSError | None = None
        self._cond = threading.Condition()
        self._queue: queue.Queue[bytes] = queue.Queue(_QUEUED)
        self._writer = threading.Thread(target=self._drain, name="spool-writer", daemon=True)
        self._writer.start()

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._failed is not None:
            raise self._failed
        if self._closing:
            raise ValueError("write to a closed spool")
        if data:
            self._queue.put(data if isinstance(data, bytes) else bytes(data))

    def _drain(self) -> None:
        while (data := self._queue.get()) is not _END:
            if self._failed is not None or self._aborted is not None:
                continue  # dropped: the spool has failed or is abandoned
            try:
                view = memoryview(data)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as error:
                with self._cond:
                    self._failed = error
                    self._cond.notify_all()
                continue
            with self._cond:
                self._size += len(data)
                self._cond.notify_all()

    def close(self) -> None:
        """All bytes are written: readers see the end of the file. Raises the writer
        thread's error, once."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
        self._queue.put(_END)
        self._writer.join()
        try:
            if self._allocated > self._size:  # fewer bytes came than declared: cut the rest
                os.ftruncate(self._fd, self._size)
        finally:
            os.close(self._fd)
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._failed is not None and self._aborted is None:
            raise self._failed

    def abort(self, reason: str) -> None:
        with self._cond:
            self._aborted = reason
            self._cond.notify_all()
        self.close()

    def reader(self) -> SpoolReader:
        return SpoolReader(self)

    def wait_for(self, end: int) -> int:
        """Block until `end` bytes are on disk or the spool is closed; the bytes available."""
        with self._cond:
            while (
                self._size < end
                and not self._closed
                and self._aborted is None
                and self._failed is None
            ):
                self._cond.wait()
            if self._aborted is not None:
                raise SpoolAborted(self._aborted)
            if self._failed is not None:
                raise SpoolAborted(f"the spool could not be written: {self._failed}")
            return self._size


class SpoolReader(io.RawIOBase):
    """Reads the spool from the start; `read(n)` returns n bytes, fewer only at the end."""

    def __init__(self, spool: Spool) -> None:
        super().__init__()
        self._spool = spool
        self._file = open(spool.path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            available = self._spool.wait_for(1 << 62)
            size = available - self._pos
        else:
            available = self._spool.wait_for(self._pos + size)
            size = min(size, available - self._pos)
        if size <= 0:
            return b""
        parts: list[bytes] = []
        remaining = size
        while remaining:
            data = self._file.read(remaining)
            if not data:  # the writer reported these bytes: they are on disk
                raise OSError(f"{self._spool.path} is shorter than the bytes written to it")
            parts.append(data)
            remaining -= len(data)
        self._pos += size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()
