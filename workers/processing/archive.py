"""ZIP inspection: the central directory only, then (optionally) a capped integrity read.

A bomb is refused from the listing alone (member count, total declared uncompressed size,
overall ratio), before any member is opened. The integrity read decompresses each member
through `zipfile`, which never yields more than the member's declared size, so the work is
bounded by the declared total already checked; a member whose data does not match its
declared size or CRC is UNREADABLE.
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

from .model import ErrorCode, Limits, ProcessingError

_LISTED = 200


def inspect_zip(path: Path, size: int, limits: Limits) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            listing = _check_listing(infos, size, limits)
            if limits.zip_verify_members:
                try:
                    _verify_members(zf, infos, limits)
                except (NotImplementedError, RuntimeError) as exc:  # encrypted, odd method
                    listing.update(verified=False, note=f"members not verified: {exc}")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, ValueError) as exc:
        raise ProcessingError(ErrorCode.UNREADABLE, f"corrupt ZIP archive: {exc}") from exc
    return listing


def _check_listing(infos: list[zipfile.ZipInfo], size: int, limits: Limits) -> dict[str, Any]:
    if len(infos) > limits.zip_max_members:
        raise ProcessingError(
            ErrorCode.ZIP_BOMB, f"{len(infos)} members (limit {limits.zip_max_members})"
        )
    total = sum(i.file_size for i in infos)
    if total > limits.zip_max_uncompressed:
        raise ProcessingError(
            ErrorCode.ZIP_BOMB,
            f"declared uncompressed size {total} bytes exceeds {limits.zip_max_uncompressed}",
        )
    ratio = total / max(size, 1)
    if total >= limits.zip_ratio_min_bytes and ratio > limits.zip_max_ratio:
        raise ProcessingError(
            ErrorCode.ZIP_BOMB,
            f"compression ratio {ratio:.0f}:1 exceeds {limits.zip_max_ratio:.0f}:1",
        )
    return {
        "members": len(infos),
        "uncompressed_size": total,
        "ratio": round(ratio, 2),
        "verified": limits.zip_verify_members,
        "entries": [
            {"name": i.filename, "size": i.file_size, "compressed_size": i.compress_size}
            for i in infos[:_LISTED]
        ],
        "truncated": len(infos) > _LISTED,
    }


def _verify_members(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    for info in infos:
        if info.is_dir():
            continue
        with zf.open(info) as member:
            read = 0
            while chunk := member.read(limits.read_chunk):
                read += len(chunk)
                if read > info.file_size:  # defensive: zipfile already caps at file_size
                    raise ProcessingError(ErrorCode.ZIP_BOMB, f"{info.filename} overflows")
