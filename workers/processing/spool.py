"""A spool file that can be read while it is being written.

The pipeline downloads a raw object into a spool on local disk. For formats read front to
back (CSV, TSV) the parser need not wait for the download: `Spool.reader()` gives a
blocking file object that hands out bytes as soon as they are on disk and waits for more
until the writer closes the spool. The writer's `abort()` wakes every reader with
`SpoolAborted`, so a failed download or checksum never leaves a parser waiting.

Bytes go to disk unbuffered (the writer's chunks are already large), so a reader woken by
`write` finds them in the page cache.
"""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path


class SpoolAborted(OSError):
    """The writer gave up (download failed, size or checksum wrong): stop reading."""


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._size = 0
        self._closed = False
        self._aborted: str | None = None
        self._cond = threading.Condition()

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        with self._cond:
            self._size += len(data)
            self._cond.notify_all()

    def close(self) -> None:
        """All bytes are written: readers see the end of the file."""
        with self._cond:
            if not self._closed:
                self._closed = True
                os.close(self._fd)
            self._cond.notify_all()

    def abort(self, reason: str) -> None:
        with self._cond:
            self._aborted = reason
        self.close()

    def reader(self) -> SpoolReader:
        return SpoolReader(self)

    def wait_for(self, end: int) -> int:
        """Block until `end` bytes are on disk or the spool is closed; the bytes available."""
        with self._cond:
            while self._size < end and not self._closed and self._aborted is None:
                self._cond.wait()
            if self._aborted is not None:
                raise SpoolAborted(self._aborted)
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
