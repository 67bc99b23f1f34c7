"""How a worker reads a raw object besides the one hashed stream: by range for the formats
read so (readers_source), or only its first bytes when the store vouches for its sha256
(known_result, the known pass).

The known pass: `startUploads` signs a declared sha256 into the presigned PUT
(`x-amz-checksum-sha256`, `Settings.s3_put_checksums`), so the store refuses a body of other
bytes (400 BadDigest) and keeps the checksum. An object of KNOWN_PASS_MIN_BYTES or more whose
format needs only its first bytes (an opaque file, plain text) is then not read back: the
store's size and checksum stand for the pass's own (its bytes are neither sent to the worker
nor hashed there again). `completeUploads` reads the checksum with the HEAD it makes anyway
(`Upload.store_sha256`), so the pass asks the store only for the first bytes. Only single
PUTs carry a checksum (up to 64 MiB); a multipart object is read whole. The fixity checks
still read every byte later (server/provenance/fixity.py).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server.models import Upload
from server.storage import ObjectStore
from workers.processing import Limits, ProcessingResult, process_known
from workers.processing.core import RemoteObject

# from this size on the known pass costs the store no more than reading the object whole
# (SeaweedFS here: 1.6 ms of CPU for a checksum HEAD and a ranged GET of 64 KiB, 1.6-1.9 ms
# for a GET of 1 MiB, 300 objects each way), and it spares the worker the read and the hash:
# bench/upload_folder.py --small 0 --large 1000 --modes production, worker CPU 6.3 s
# against 7.0-8.6 s read whole. Below it, the two requests cost the store more than one GET.
KNOWN_PASS_MIN_BYTES = 1024 * 1024


async def known_result(
    store: ObjectStore, upload: Upload, work: Path, limits: Limits
) -> ProcessingResult | None:
    """The result from the store's size and checksum, read at completion
    (`Upload.store_sha256`), and the object's first bytes, checked against the declared size
    and sha256 (ProcessingError as a pass's own would raise); None: read it whole (no
    checksum kept, a format that needs more, an object small enough that its first bytes
    are most of it, or one whose size is no longer the one completed)."""
    if upload.declared_size < KNOWN_PASS_MIN_BYTES:
        return None
    size, sha256 = upload.size, upload.store_sha256
    if size is None or sha256 is None:
        return None
    reader = await store.open_read(store.buckets.raw, upload.object_key, 0, limits.head_bytes)
    try:
        if reader.info.size != size:
            return None
        head = await reader.read_all()
    finally:
        await reader.aclose()
    return await asyncio.to_thread(
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
