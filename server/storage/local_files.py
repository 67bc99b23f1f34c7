"""The local store's files: a temporary file hashed as it is written, a directory's fsync
(server/storage/local.py)."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class HashingWriter:
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
