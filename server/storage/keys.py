"""Object keys, bucket names, metadata and download names: the rules user input meets.

Keys come from user-controlled input: build them with `safe_key`; every store operation
checks the key again (`check_key`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from urllib.parse import quote

MAX_SEGMENT_BYTES = 255
MAX_KEY_BYTES = 1024

_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_META_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def _check_segment(part: str) -> None:
    if part == "":
        raise ValueError("empty key segment (leading, trailing or double slash)")
    if part in (".", ".."):
        raise ValueError(f"relative key segment {part!r} is not allowed")
    if "\\" in part:
        raise ValueError("backslash is not allowed in a key")
    if "\x00" in part:
        raise ValueError("NUL character is not allowed in a key")
    for char in part:
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            raise ValueError(f"control or format character U+{ord(char):04X} in a key")
    if part != part.strip():
        raise ValueError("key segment must not start or end with whitespace")
    if len(part.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise ValueError(f"key segment longer than {MAX_SEGMENT_BYTES} bytes (UTF-8)")


def safe_key(*segments: str) -> str:
    """An object key from user-controlled segments, or `ValueError`.

    Each segment is NFC-normalised and may contain `/` as a separator between non-empty
    parts; no absolute paths, `.`/`..`, backslashes, NUL or other control/format characters,
    leading/trailing whitespace; at most 255 UTF-8 bytes per part and 1024 for the key.
    """
    if not segments:
        raise ValueError("an object key needs at least one segment")
    parts: list[str] = []
    for segment in segments:
        if not isinstance(segment, str):
            raise ValueError(f"key segment must be a string, not {type(segment).__name__}")
        segment = unicodedata.normalize("NFC", segment)
        if segment == "":
            raise ValueError("empty key segment")
        if segment.startswith("/"):
            raise ValueError("absolute paths are not allowed in a key")
        for part in segment.split("/"):
            _check_segment(part)
            parts.append(part)
    key = "/".join(parts)
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"key longer than {MAX_KEY_BYTES} bytes (UTF-8)")
    return key


@lru_cache(maxsize=4096)  # a key is checked at each step of its object's way (refusals not kept)
def check_key(key: str) -> str:
    """Accept `key` only if it already is what `safe_key` makes of it (NFC included)."""
    if safe_key(key) != key:
        raise ValueError("key is not in Unicode normalisation form NFC")
    return key


def check_bucket(bucket: str) -> str:
    if not isinstance(bucket, str) or not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise ValueError(f"invalid bucket name {bucket!r}")
    return bucket


_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
_FILENAME_BAD = re.compile(r'[<>:"/\\|?*]')


def sanitize_filename(name: str, fallback: str = "download") -> str:
    """A harmless display / download name: the last path component, NFC, no control or
    format characters, no characters Windows refuses, at most 255 UTF-8 bytes (the
    extension kept), never empty, `.` or `..`."""
    name = unicodedata.normalize("NFC", str(name))
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in _FORBIDDEN_CATEGORIES)
    name = _FILENAME_BAD.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if not name:
        return fallback
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, dot, ext = name, "", ""
    if stem.lower() in _WINDOWS_RESERVED:
        stem = "_" + stem
    suffix = dot + ext
    budget = MAX_SEGMENT_BYTES - len(suffix.encode("utf-8"))
    encoded = stem.encode("utf-8")
    if len(encoded) > budget:
        stem = encoded[:budget].decode("utf-8", errors="ignore").rstrip(" .")
    return (stem + suffix) or fallback


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """A Content-Disposition value with an ASCII fallback and the RFC 6266 UTF-8 name."""
    clean = sanitize_filename(filename)
    ascii_name = (
        unicodedata.normalize("NFKD", clean).encode("ascii", "ignore").decode().replace("%", "_")
    )
    ascii_name = sanitize_filename(ascii_name.replace('"', "_"))
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


def check_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata as the stores keep it: lower-case token keys, printable ASCII values."""
    result: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        lowered = str(key).lower()
        if not _META_KEY_RE.match(lowered):
            raise ValueError(f"invalid metadata key {key!r}")
        text = str(value)
        if not text.isascii() or not text.isprintable():
            raise ValueError(f"metadata value of {key!r} must be printable ASCII")
        result[lowered] = text
    return result
