"""A file's path inside a dataset version (`raw/2024/station-07/log.csv`): one rule for
uploads, batches and the migration that gave every file a path.

A path is NFC, `/`-separated (a `\\` is read as a separator), relative, without `.` or `..`
or empty segments, without control characters, at most PATH_MAX characters and SEGMENT_MAX
bytes (UTF-8) per segment. Two paths of one version may not differ only by case: `path_key`
(the sha256 of the case-folded path) is unique per version.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from server.core.errors import Collector, ErrorCode
from server.datasets.errors import DatasetErrorCode as Code
from server.models.datasets import path_key

__all__ = ["PATH_MAX", "SEGMENT_MAX", "basename", "check_path", "path_key"]
PATH_MAX = 1024
SEGMENT_MAX = 255  # bytes of UTF-8, as most file systems count a name
_CONTROL = ("Cc", "Cf", "Cs", "Co", "Cn")


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def directory(path: str) -> str:
    """The folder part with its trailing slash (`raw/2024/`), or "" at the top."""
    head, _, _ = path.rpartition("/")
    return f"{head}/" if head else ""


def check_path(errors: Collector, raw: str | None, field: str = "filename") -> str:
    """The normalised path, or the refusal's code in `errors` (one code per path)."""
    path = unicodedata.normalize("NFC", raw or "").strip().replace("\\", "/")
    if not path:
        errors.add(ErrorCode.REQUIRED, "a path is required", field)
        return path
    refusal = _refusal(path)
    if refusal is not None:
        errors.add(refusal[0], refusal[1], field)
    return path


def _refusal(path: str) -> tuple[Code, str] | None:
    if any(unicodedata.category(c) in _CONTROL for c in path):
        return Code.INVALID_FILENAME, "the path contains NUL or control characters"
    if len(path) > PATH_MAX:
        return Code.PATH_TOO_LONG, f"a path is at most {PATH_MAX} characters, not {len(path)}"
    if path.startswith("/") or (len(path) > 1 and path[1] == ":" and path[0].isalpha()):
        return Code.PATH_ABSOLUTE, "a path is relative to the version, not absolute"
    segments = path.split("/")
    if ".." in segments:
        return Code.PATH_PARENT_SEGMENT, "a path may not climb out with .."
    if "." in segments:
        return Code.PATH_DOT_SEGMENT, "a path may not hold . segments"
    if "" in segments or any(s != s.strip() for s in segments):
        return Code.PATH_EMPTY_SEGMENT, "a path may not hold empty or blank-edged segments"
    if any(len(s.encode()) > SEGMENT_MAX for s in segments):
        return Code.NAME_TOO_LONG, f"a folder or file name is at most {SEGMENT_MAX} bytes"
    return None


def case_clashes(paths: Iterable[str], taken: dict[str, str]) -> dict[int, tuple[Code, str]]:
    """For each position in `paths` that clashes with `taken` (path_key -> path already in
    the version) or with an earlier path of the same list: DUPLICATE_NAME for the same
    path, PATH_CASE_CLASH for one differing only by case. `taken` gains the others."""
    out: dict[int, tuple[Code, str]] = {}
    for i, path in enumerate(paths):
        key = path_key(path)
        other = taken.get(key)
        if other == path:
            out[i] = (Code.DUPLICATE_NAME, f"this version already has a file named {path!r}")
        elif other is not None:
            out[i] = (Code.PATH_CASE_CLASH, f"{path!r} differs from {other!r} only by case")
        else:
            taken[key] = path
    return out
