"""Write-once files for the local store's raw bucket.

A raw object is placed with `os.link` (which, unlike `rename`, never replaces an existing
file: two writers racing for one key cannot both win) after its mode was set to 0444, so it
appears read-only and complete at once. Putting the same bytes again (a retried job) is
accepted and leaves the first file as it is; other bytes raise `ObjectExists`.

What this cannot stop: the server's own user can still chmod, unlink or rename a file (it
must be able to create files in the bucket's directories), and root can do anything. Those
changes are found by fixity checks (server/provenance/fixity.py), not prevented.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from pathlib import Path

from server.storage.errors import KeyConflict, ObjectExists

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH  # 0444
DIRECTORY = 0o755  # the server must still add objects; no one else may


def sha256_of_file(path: Path, chunk_size: int = 4 * 1024 * 1024) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def place_once(tmp: Path, path: Path, size: int, sha256: str, name: str) -> bool:
    """Move `tmp` to `path` unless a file is there. True when placed; False when an
    identical file was there already (`tmp` is removed); `ObjectExists` when a different
    one is (`KeyConflict` when a prefix of other keys is there)."""
    os.chmod(tmp, READ_ONLY)
    try:
        os.link(tmp, path)
    except FileExistsError:
        if path.is_dir():
            raise KeyConflict(f"{name!r} is a prefix of other keys (local store)") from None
        same = path.stat().st_size == size and sha256_of_file(path) == sha256
        with contextlib.suppress(OSError):
            tmp.unlink()
        if same:
            return False
        raise ObjectExists(f"{name} exists with other bytes: raw objects are write-once") from None
    tmp.unlink()
    return True


def make_directories(path: Path) -> None:
    """Create the parents of a raw object, closed to group and others."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY)
