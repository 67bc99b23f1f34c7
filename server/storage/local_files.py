"""The local store's files (server/storage/local.py): a temporary file hashed as it is
written, a directory's fsync, and where an object's metadata lives.

An object's metadata (sha256, size, inode, content type, user metadata) is a JSON record in
an extended attribute of the data file itself (`user.satreps.meta`, as OpenStack Swift's
object server keeps its own), set on the temporary file before it is fsynced and placed: it
is durable with the bytes and there the moment the object appears, at no inode of its own.
Where the platform or file system cannot hold it, the record goes to a sidecar file
(`.satreps/meta/<bucket>/<key>.json`), which objects written before the attribute also have.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from server.storage.base import ObjectInfo

META_XATTR = "user.satreps.meta"
# the attribute cannot be kept here: no xattrs on this platform or file system, or none
# this large (ext4 answers ENOSPC, not E2BIG, for a value over its block size; a disk that
# is really full fails the sidecar written instead the same way)
NO_XATTR = frozenset(
    {errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.E2BIG, errno.ENOSPC, errno.ERANGE}
)

Record = dict[str, Any]


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def set_label(fd: int, value: bytes) -> bool:
    """Write the metadata attribute on an open file; False where it cannot be kept."""
    setxattr = getattr(os, "setxattr", None)  # absent on macOS and Windows
    if setxattr is None:
        return False
    try:
        setxattr(fd, META_XATTR, value)
    except OSError as exc:
        if exc.errno in NO_XATTR:
            return False
        raise
    return True


def read_label(target: int | Path) -> Record | None:
    """The metadata attribute of a file (a path or an open descriptor), None if it has none."""
    getxattr = getattr(os, "getxattr", None)
    if getxattr is None:
        return None
    try:
        return _record(getxattr(target, META_XATTR))
    except OSError:
        return None


def can_label(directory: Path) -> bool:
    """Whether files in `directory` keep the metadata attribute (asked once per store)."""
    with tempfile.TemporaryFile(dir=directory) as probe:
        return set_label(probe.fileno(), b"{}")


def read_sidecar(path: Path) -> Record | None:
    try:
        return _record(path.read_bytes())
    except OSError:
        return None


def _record(text: bytes) -> Record | None:
    """A metadata record from its JSON, None if it is not one (a torn or foreign value)."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def write_sidecar(path: Path, record: Record) -> Path:
    """Write a sidecar under a temporary name beside `path`; returns that name (to be
    renamed to `path` once the object is in place). Nothing is left if it fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(json.dumps(record))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def object_info(bucket: str, key: str, st: os.stat_result, record: Record | None) -> ObjectInfo:
    """An object's info from its file's stat and its metadata record, if trusted."""
    modified = dt.datetime.fromtimestamp(st.st_mtime, tz=dt.UTC)
    if record:
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=st.st_size,
            etag=str(record["sha256"])[:32],
            sha256=record["sha256"],
            content_type=record.get("content_type"),
            last_modified=modified,
            metadata=dict(record.get("metadata") or {}),
        )
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=st.st_size,
        etag=f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}",
        last_modified=modified,
    )


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

    def record(self, content_type: str | None, metadata: Mapping[str, str]) -> Record:
        """The metadata record of the bytes written so far."""
        return {
            "inode": os.fstat(self.handle.fileno()).st_ino,
            "size": self.size,
            "sha256": self.hash.hexdigest(),
            "content_type": content_type,
            "metadata": dict(metadata),
        }

    def finish(self, fsync: bool, label: bytes | None = None) -> bool:
        """Flush, set `label` as the metadata attribute (when given), fsync and close.
        True when the attribute was set; False when not asked or not possible here."""
        self.handle.flush()
        labelled = label is not None and set_label(self.handle.fileno(), label)
        if fsync:
            os.fsync(self.handle.fileno())
        self.handle.close()
        return labelled

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self.handle.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
