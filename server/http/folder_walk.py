"""The walk of `satreps upload DIR` (server/http/folder_upload.py): which files of the
folder go, in path order, and which are left out and why. Symlinked folders are listed and
not followed (a symlink loop cannot trap the walk); symlinked files are read where they
point; `--include` and `--exclude` globs apply to the path relative to DIR and to the bare
name. Also the codes (`FileCode`) and the per-file record (`Local`) the transfer and its
state file carry on."""

from __future__ import annotations

import errno
import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from server.http.folder_warnings import FileWarning


class FileCode(StrEnum):
    """Why a file of the folder is not READY with its sha256, or was left out. The server's
    own codes (a refused entry's, a FAILED or REJECTED upload's `errorCode`: PATH_TOO_LONG,
    PATH_CASE_CLASH, SIZE_MISMATCH, ...) are reported as the server gives them."""

    # failures: the exit status is 1
    # the READY file at its path has another sha256, or the store refused the bytes sent
    # against the sha256 signed into their URL
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    MISSING_REMOTE = "MISSING_REMOTE"  # no READY file and no upload at its path
    NOT_FINISHED = "NOT_FINISHED"  # still on its way when the wait ended
    TRANSFER_FAILED = "TRANSFER_FAILED"  # the store refused its bytes
    # the local file (or its symlink's target) cannot be read; the server's UNREADABLE is
    # about a file's content
    LOCAL_UNREADABLE = "LOCAL_UNREADABLE"
    FAILED = "FAILED"  # the upload's state, when the server gave no code
    REJECTED = "REJECTED"
    QUARANTINED = "QUARANTINED"
    ABORTED = "ABORTED"
    # left out by rule: listed, not failures
    SYMLINK_LOOP = "SYMLINK_LOOP"  # a symlinked folder pointing at itself or above
    SYMLINKED_FOLDER = "SYMLINKED_FOLDER"  # any other symlinked folder (not followed)
    NOT_A_FILE = "NOT_A_FILE"  # a FIFO, socket or device
    EMPTY_FILE = "EMPTY_FILE"  # 0 bytes carry no data


@dataclass(frozen=True)
class Problem:
    """A path of the folder that is not READY with its sha256 (or was left out), and why."""

    path: str
    code: str  # a FileCode, or the server's code
    reason: str

    def line(self) -> str:
        return f"{self.path}: {self.code}: {self.reason}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "reason": self.reason}


@dataclass
class Local:
    """A file of the folder and how far it went (what the state file keeps)."""

    path: str  # relative to DIR, with /
    size: int
    mtime_ns: int
    sha256: str | None = None
    upload: str | None = None
    sent: bool = False
    completed: bool = False
    refused: str | None = None  # why the server (or the store) refused it: this run's only
    code: str | None = None  # and the code of that
    put_url: str | None = field(default=None, repr=False)  # this run's, not kept

    def refuse(self, code: str, reason: str) -> None:
        self.code, self.refused = code, reason


@dataclass
class Scan:
    files: list[Local] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)  # left out by rule
    failed: list[Problem] = field(default_factory=list)  # meant to go, but cannot be read
    # the processing warnings of the files that ended READY (asked once the wait is over)
    warnings: list[FileWarning] = field(default_factory=list)


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def _symlinked_folder(link: Path, rel: str) -> Problem:
    try:
        target = link.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: a loop, on older Pythons
        return Problem(rel, FileCode.SYMLINK_LOOP, "a symlink that never reaches a folder")
    if link.parent.resolve().is_relative_to(target):
        return Problem(rel, FileCode.SYMLINK_LOOP, "a symlink to a folder above it (not followed)")
    return Problem(rel, FileCode.SYMLINKED_FOLDER, "a symlink to a folder (not followed)")


def scan(root: Path, include: list[str], exclude: list[str], state_file: Path) -> Scan:
    """The files under `root` the globs keep, in path order; what was left out, and why."""
    found = Scan()
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                rel = (base / name).relative_to(root).as_posix()
                found.skipped.append(_symlinked_folder(base / name, rel))
        dirs.sort()
        for name in sorted(names):
            full = base / name
            rel = full.relative_to(root).as_posix()
            if full == state_file or (include and not _matches(rel, include)):
                continue
            if _matches(rel, exclude):
                continue
            try:
                stat = full.stat()  # follows a symlinked file
            except OSError as error:
                if error.errno == errno.ELOOP:
                    reason = "a symlink that never reaches a file"
                    found.skipped.append(Problem(rel, FileCode.SYMLINK_LOOP, reason))
                else:
                    reason = f"cannot be read: {error.strerror}"
                    found.failed.append(Problem(rel, FileCode.LOCAL_UNREADABLE, reason))
                continue
            if not full.is_file():
                found.skipped.append(Problem(rel, FileCode.NOT_A_FILE, "not a regular file"))
            elif stat.st_size == 0:
                reason = "empty (0 bytes carry no data)"
                found.skipped.append(Problem(rel, FileCode.EMPTY_FILE, reason))
            else:
                found.files.append(Local(rel, stat.st_size, stat.st_mtime_ns))
    found.files.sort(key=lambda f: f.path)
    return found
