"""How a worker reads a raw object besides the one hashed stream: by range for the formats
read so (readers_source), or only its first bytes when the store vouches for its sha256
(known_result, the known pass).

The known pass: `startUploads` signs a declared sha256 into the presigned PUT
(`x-amz-checksum-sha256`, `Settings.s3_put_checksums`), so the store refuses a body of other
bytes (400 BadDigest) and keeps the checksum. An object larger than the head that the
format detection reads (`Limits.head_bytes`, 64 KiB) whose format needs only those first
bytes (an opaque file, plain text) is then not read back: the
store's size and checksum stand for the pass's own (its bytes are neither sent to the worker
nor hashed there again). `completeUploads` reads the checksum with the HEAD it makes anyway
(`Upload.store_sha256`), so the pass asks the store only for the first bytes. Only single
PUTs carry a checksum (up to 64 MiB); a multipart object is read whole. The fixity checks
still read every byte later (server/provenance/fixity.py).

Measured (bench/upload_folder.py --small 2000 --small-kib 256 --large 0 --modes production,
alternated runs): with the pass the worker used 6.2-6.3 s of CPU and the folder took
15.0-15.4 s; read whole, 8.1-9.8 s and 16.9-20.5 s. An object no larger than the head is
read whole: that read is the head.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.models import Upload
from server.storage import ObjectStore
from workers.processing import Limits, ProcessingResult, process_known
from workers.processing.core import RemoteObject


@dataclass(frozen=True)
class Known:
    """What the known pass found: the result, or none (read the object whole), and the
    first bytes it read, which a whole read then takes up instead of asking for them again
    (a CSV is told from its head, and then read to its end)."""

    result: ProcessingResult | None = None
    head: bytes = b""


async def known_result(store: ObjectStore, upload: Upload, work: Path, limits: Limits) -> Known:
    """The result from the store's size and checksum, read at completion
    (`Upload.store_sha256`), and the object's first bytes, checked against the declared size
    and sha256 (ProcessingError as a pass's own would raise); no result: read it whole (no
    checksum kept, a format that needs more, an object no larger than its head, or one
    whose size is no longer the one completed)."""
    if upload.declared_size <= limits.head_bytes:
        return Known()
    size, sha256 = upload.size, upload.store_sha256
    if size is None or sha256 is None:
        return Known()
    reader = await store.open_read(store.buckets.raw, upload.object_key, 0, limits.head_bytes)
    try:
        if reader.info.size != size:
            return Known()
        head = await reader.read_all()
    finally:
        await reader.aclose()
    result = await asyncio.to_thread(
        process_known,
        head,
        filename=upload.filename,
        size=size,
        sha256=sha256,
        declared_size=upload.declared_size,
        declared_sha256=upload.declared_sha256,
        workdir=work,
        limits=limits,
    )
    return Known(result, b"" if result is not None else head)


async def rest_after(head: bytes, reader: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The whole object's bytes: the head already read, then the reader opened after it."""
    if head:
        yield head
    async for chunk in reader:
        yield chunk


def readers_source(
    store: ObjectStore, key: str, etag: str | None, limits: Limits
) -> dict[str, Any]:
    """How the format readers reach the raw object besides the hashed stream: its own file
    (the embedded store) or its byte ranges (S3, for the formats read by range), so that
    neither copies it to a spool. The URL outlives an extraction's two steps."""
    local = store.local_file(store.buckets.raw, key)
    if local is not None:
        return {"local_path": local}
    expires = 2 * limits.extractor_wall_seconds + 300
    sign = store.range_signer(store.buckets.raw, key, expires)
    return {"remote": RemoteObject(sign, etag or None)} if sign else {}
