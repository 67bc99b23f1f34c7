"""The object store contract, run against the local directory store and a real SeaweedFS."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import socket
import threading
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from server.storage import (
    Buckets,
    InvalidPart,
    InvalidRange,
    KeyConflict,
    LocalObjectStore,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    PartInfo,
    S3ObjectStore,
    SizeMismatch,
    StorageError,
    StoreUnavailable,
    UnsupportedOperation,
    UploadNotFound,
    content_disposition,
    safe_key,
    sanitize_filename,
)
from tests.fixtures.seaweed import SeaweedS3

MiB = 1024 * 1024
BUCKETS = Buckets()


@pytest.fixture(scope="session")
async def local_store(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ObjectStore]:
    store = LocalObjectStore(tmp_path_factory.mktemp("objects"), BUCKETS, chunk_size=1 * MiB)
    await store.ensure_buckets()
    yield store
    store.close()


@pytest.fixture(scope="session")
async def s3_store(seaweed: SeaweedS3) -> AsyncIterator[ObjectStore]:
    store = S3ObjectStore(
        seaweed.endpoint,
        seaweed.access_key,
        seaweed.secret_key,
        secure=False,
        region=seaweed.region,
        buckets=BUCKETS,
        raw_retention_days=1,
        max_workers=4,
        chunk_size=1 * MiB,
    )
    await store.ensure_buckets()
    yield store
    store.close()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ObjectStore:
    store: ObjectStore = request.getfixturevalue(f"{request.param}_store")
    return store


@pytest.fixture
def prefix() -> str:
    return f"test/{uuid.uuid4().hex[:12]}"


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]
        await asyncio.sleep(0)


async def upload_parts(store: ObjectStore, key: str, upload_id: str, parts: list[bytes]) -> None:
    """Send parts the way each mode's client does: presigned PUTs (S3) or write_part."""
    bucket = BUCKETS.raw
    if store.supports_presigned:
        async with httpx.AsyncClient(timeout=60) as http:
            for number, data in enumerate(parts, start=1):
                url = await store.presigned_part_url(bucket, key, upload_id, number, 600)
                response = await http.put(url, content=data)
                assert response.status_code == 200, response.text
                assert response.headers["etag"]
    else:
        for number, data in enumerate(parts, start=1):
            info = await store.write_part(bucket, key, upload_id, number, chunks_of(data, MiB))
            assert info == PartInfo(number, info.etag, len(data))


# --- objects ------------------------------------------------------------------------------


async def test_put_stat_read_ranges(store: ObjectStore, prefix: str) -> None:
    bucket, key = BUCKETS.artifacts, f"{prefix}/hello.txt"
    data = b"0123456789" * 100
    info = await store.put(
        bucket, key, data, content_type="text/plain", metadata={"Upload-Id": "u-1"}
    )
    assert info.size == 1000
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.etag

    stat = await store.stat(bucket, key)
    assert stat is not None
    assert stat.size == 1000
    assert stat.etag == info.etag
    assert stat.content_type == "text/plain"
    assert stat.metadata == {"upload-id": "u-1"}
    assert await store.exists(bucket, key)
    assert await store.stat(bucket, f"{prefix}/missing") is None
    assert not await store.exists(bucket, f"{prefix}/missing")

    assert await (await store.open_read(bucket, key)).read_all() == data
    assert await (await store.open_read(bucket, key, 5, 7)).read_all() == data[5:12]
    assert await (await store.open_read(bucket, key, 990)).read_all() == data[990:]
    reader = await store.open_read(bucket, key, 995, 100)  # a length past the end is cut
    assert (reader.length, reader.info.size) == (5, 1000)
    assert await reader.read_all() == data[995:]
    assert await (await store.open_read(bucket, key, 3, 0)).read_all() == b""
    with pytest.raises(InvalidRange):
        await (await store.open_read(bucket, key, 5000)).read_all()
    with pytest.raises(ObjectNotFound):
        await store.open_read(bucket, f"{prefix}/missing")
    assert await store.get_bytes(bucket, key) == data
    with pytest.raises(StorageError):
        await store.get_bytes(bucket, key, max_size=10)

    overwritten = await store.put(bucket, key, b"new")
    assert overwritten.size == 3
    assert await store.get_bytes(bucket, key) == b"new"


async def test_copy_delete_list(store: ObjectStore, prefix: str) -> None:
    bucket = BUCKETS.artifacts
    keys = [f"{prefix}/b/2.bin", f"{prefix}/a.bin", f"{prefix}/b/1.bin", f"{prefix}x/other"]
    for index, key in enumerate(keys):
        await store.put(bucket, key, bytes([index]) * (index + 1))

    listed = [info async for info in store.list(bucket, f"{prefix}/")]
    assert [i.key for i in listed] == sorted(keys[:3])
    assert [i.size for i in listed] == [2, 3, 1]
    assert [i.key async for i in store.list(bucket, f"{prefix}/b/")] == sorted(keys[0:3:2])
    assert [i.key async for i in store.list(bucket, f"{prefix}/b/1")] == [keys[2]]

    copied = await store.copy(bucket, keys[1], BUCKETS.provenance, f"{prefix}/copy.bin")
    assert copied.size == 2
    assert await store.get_bytes(BUCKETS.provenance, f"{prefix}/copy.bin") == b"\x01\x01"
    with pytest.raises(ObjectNotFound):
        await store.copy(bucket, f"{prefix}/missing", bucket, f"{prefix}/nowhere")

    await store.delete(bucket, keys[2])
    await store.delete(bucket, keys[2])  # idempotent
    assert await store.stat(bucket, keys[2]) is None
    assert [i.key async for i in store.list(bucket, f"{prefix}/")] == [keys[1], keys[0]]
    for key in keys:
        await store.delete(bucket, key)
    assert [i.key async for i in store.list(bucket, f"{prefix}/")] == []


async def test_streams_40_mib_in_bounded_chunks(
    store: ObjectStore, prefix: str, tmp_path: Path
) -> None:
    bucket, key = BUCKETS.artifacts, f"{prefix}/big.bin"
    rng = random.Random(42)
    expected = hashlib.sha256()
    produced: list[int] = []

    async def generate() -> AsyncIterator[bytes]:
        for _ in range(40):
            chunk = rng.randbytes(MiB)
            expected.update(chunk)
            produced.append(len(chunk))
            yield chunk

    info = await store.put(bucket, key, generate(), size=40 * MiB)
    assert produced == [MiB] * 40
    assert info.size == 40 * MiB
    assert info.sha256 == expected.hexdigest()
    if isinstance(store, S3ObjectStore):
        assert info.etag.endswith("-3")  # three parts of 16 MiB, 16 MiB and 8 MiB

    reader = await store.open_read(bucket, key)
    seen = hashlib.sha256()
    sizes: list[int] = []
    async with reader:
        async for chunk in reader:
            sizes.append(len(chunk))
            seen.update(chunk)
    assert sum(sizes) == 40 * MiB
    assert max(sizes) <= store.chunk_size == MiB
    assert len(sizes) >= 40
    assert seen.hexdigest() == expected.hexdigest()

    # A file path is streamed too.
    path = tmp_path / "payload.bin"
    payload = random.Random(7).randbytes(17 * MiB + 3)
    path.write_bytes(payload)
    from_file = await store.put(bucket, f"{prefix}/file.bin", path)
    assert from_file.size == len(payload)
    assert from_file.sha256 == hashlib.sha256(payload).hexdigest()
    ranged = await store.open_read(bucket, f"{prefix}/file.bin", 16 * MiB - 10, 20)
    assert await ranged.read_all() == payload[16 * MiB - 10 : 16 * MiB + 10]
    # A file shorter than the size the caller vouches for stores nothing.
    with pytest.raises(SizeMismatch):
        await store.put(bucket, f"{prefix}/short-file.bin", path, size=len(payload) + 1)
    assert await store.stat(bucket, f"{prefix}/short-file.bin") is None


async def test_failed_or_short_put_stores_nothing(store: ObjectStore, prefix: str) -> None:
    bucket, key = BUCKETS.artifacts, f"{prefix}/short.bin"
    with pytest.raises(SizeMismatch):
        await store.put(bucket, key, chunks_of(b"x" * 100, 30), size=1000)
    with pytest.raises(SizeMismatch):
        await store.put(bucket, key, b"abc", size=4)

    async def broken() -> AsyncIterator[bytes]:
        yield b"y" * (6 * MiB)
        yield b"y" * (12 * MiB)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError, match="went away"):
        await store.put(bucket, key, broken())
    assert await store.stat(bucket, key) is None
    if isinstance(store, LocalObjectStore):
        assert list((store.root / ".satreps" / "tmp").iterdir()) == []


async def test_keys_and_buckets_are_checked(store: ObjectStore) -> None:
    for key in ("../x", "/abs", "a//b", "a/", "a\\b", "a\x00b"):
        with pytest.raises(ValueError):
            await store.put(BUCKETS.artifacts, key, b"x")
        with pytest.raises(ValueError):
            await store.stat(BUCKETS.artifacts, key)
    with pytest.raises(ValueError):
        await store.put("../etc", "x", b"x")


# --- multipart ----------------------------------------------------------------------------


async def test_multipart_lifecycle(store: ObjectStore, prefix: str) -> None:
    bucket, key = BUCKETS.raw, f"{prefix}/survey.csv"
    rng = random.Random(1)
    parts = [rng.randbytes(5 * MiB), rng.randbytes(5 * MiB), rng.randbytes(1234)]
    upload_id = await store.create_multipart(bucket, key, "text/csv", {"uploader": "alice"})
    await upload_parts(store, key, upload_id, parts)

    listed = await store.list_parts(bucket, key, upload_id)
    assert [(p.part_number, p.size) for p in listed] == [(1, 5 * MiB), (2, 5 * MiB), (3, 1234)]
    assert await store.stat(bucket, key) is None  # nothing visible before completion

    info = await store.complete_multipart(bucket, key, upload_id, listed)
    whole = b"".join(parts)
    assert info.size == len(whole)
    assert info.content_type == "text/csv"
    assert info.metadata == {"uploader": "alice"}
    assert hashlib.sha256(await store.get_bytes(bucket, key)).digest() == (
        hashlib.sha256(whole).digest()
    )
    with pytest.raises(UploadNotFound):
        await store.list_parts(bucket, key, upload_id)


async def test_multipart_refusals_and_abort(store: ObjectStore, prefix: str) -> None:
    bucket, key = BUCKETS.raw, f"{prefix}/aborted.bin"
    upload_id = await store.create_multipart(bucket, key)
    await upload_parts(store, key, upload_id, [b"a" * 1000])
    (part,) = await store.list_parts(bucket, key, upload_id)
    with pytest.raises(InvalidPart):
        await store.complete_multipart(bucket, key, upload_id, [(1, "0" * 32)])
    with pytest.raises(InvalidPart):
        await store.complete_multipart(bucket, key, upload_id, [])
    with pytest.raises(InvalidPart):
        await store.complete_multipart(bucket, key, upload_id, [part, part])
    with pytest.raises(UploadNotFound):
        await store.list_parts(bucket, f"{prefix}/other", "f" * 32)
    await store.abort_multipart(bucket, key, upload_id)
    with pytest.raises(UploadNotFound):
        await store.list_parts(bucket, key, upload_id)
    await store.abort_multipart(bucket, key, upload_id)  # idempotent
    await store.abort_multipart(bucket, key, "e" * 32)
    assert await store.stat(bucket, key) is None


async def test_local_multipart_checks(local_store: ObjectStore, prefix: str) -> None:
    bucket, key = BUCKETS.raw, f"{prefix}/small-parts.bin"
    upload_id = await local_store.create_multipart(bucket, key)
    one = await local_store.write_part(bucket, key, upload_id, 1, b"a" * 10)
    two = await local_store.write_part(bucket, key, upload_id, 2, b"b" * 10)
    with pytest.raises(InvalidPart, match="smaller"):  # S3's EntityTooSmall
        await local_store.complete_multipart(bucket, key, upload_id, [one, two])
    again = await local_store.write_part(bucket, key, upload_id, 2, b"c" * 5)  # replaces
    assert await local_store.list_parts(bucket, key, upload_id) == [one, again]
    with pytest.raises(UploadNotFound):
        await local_store.write_part(bucket, f"{prefix}/wrong-key", upload_id, 1, b"x")
    with pytest.raises(UploadNotFound):
        await local_store.list_parts(bucket, key, "../../etc")
    with pytest.raises(ValueError):
        await local_store.write_part(bucket, key, upload_id, 0, b"x")
    info = await local_store.complete_multipart(bucket, key, upload_id, [again])
    assert await local_store.get_bytes(bucket, key) == b"c" * 5
    assert info.sha256 == hashlib.sha256(b"c" * 5).hexdigest()


# --- presigned URLs -----------------------------------------------------------------------


async def test_presigned_put_and_get(s3_store: ObjectStore, prefix: str) -> None:
    bucket, key = BUCKETS.raw, f"{prefix}/direct.txt"
    async with httpx.AsyncClient(timeout=30) as http:
        url = await s3_store.presigned_put(bucket, key, 300)
        assert (await http.put(url, content=b"straight to the store")).status_code == 200
        info = await s3_store.stat(bucket, key)
        assert info is not None and info.size == 21

        url = await s3_store.presigned_get(bucket, key, 300, filename="résumé 2024.txt")
        response = await http.get(url)
        assert response.status_code == 200
        assert response.content == b"straight to the store"
        assert response.headers["content-disposition"] == content_disposition("résumé 2024.txt")

        # A tampered signature is refused.
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query["X-Amz-Signature"] = "0" * 64
        tampered = urlunsplit(parts._replace(query=urlencode(query)))
        assert (await http.get(tampered)).status_code == 403
        # So is another key under the same signature.
        other = url.replace("direct.txt", "other.txt")
        assert (await http.get(other)).status_code == 403

        # An expired URL is refused.
        expiring = await s3_store.presigned_put(bucket, f"{prefix}/late.txt", 1)
        await asyncio.sleep(2.1)
        assert (await http.put(expiring, content=b"late")).status_code == 403
        assert await s3_store.stat(bucket, f"{prefix}/late.txt") is None


async def test_a_sha256_signed_into_the_put_is_checked_and_kept_by_the_store(
    s3_store: ObjectStore, local_store: ObjectStore, prefix: str
) -> None:
    """x-amz-checksum-sha256 in the presigned PUT: other bytes are refused (BadDigest,
    nothing stored); the right ones are stored with the store's checksum, which
    stat(checksum=True) reads back as hex (a plain stat does not ask for it). A PUT without
    one leaves none; a local store has none."""
    bucket, key = BUCKETS.raw, f"{prefix}/checked.bin"
    data = os.urandom(70_000)
    sha = hashlib.sha256(data).hexdigest()
    async with httpx.AsyncClient(timeout=30) as http:
        url = await s3_store.presigned_put(bucket, key, 300, sha256=sha)
        refused = await http.put(url, content=data[:-1] + bytes([data[-1] ^ 1]))
        assert refused.status_code == 400 and "<Code>BadDigest</Code>" in refused.text
        assert await s3_store.stat(bucket, key) is None
        assert (await http.put(url, content=data)).status_code == 200
        checked = await s3_store.stat(bucket, key, checksum=True)
        assert checked is not None and (checked.size, checked.store_sha256) == (len(data), sha)
        unasked = await s3_store.stat(bucket, key)
        assert unasked is not None and unasked.store_sha256 is None
        plain = await s3_store.presigned_put(bucket, f"{prefix}/plain.bin", 300)
        assert (await http.put(plain, content=data)).status_code == 200
    found = await s3_store.stat(bucket, f"{prefix}/plain.bin", checksum=True)
    assert found is not None and found.size == len(data) and found.store_sha256 is None
    assert await s3_store.stat(bucket, f"{prefix}/missing.bin", checksum=True) is None
    await local_store.put(bucket, key, data)
    local = await local_store.stat(bucket, key, checksum=True)
    assert local is not None and local.store_sha256 is None


async def test_mode_specific_operations_are_refused(
    local_store: ObjectStore, s3_store: ObjectStore
) -> None:
    assert not local_store.supports_presigned and s3_store.supports_presigned
    with pytest.raises(UnsupportedOperation):
        await local_store.presigned_put(BUCKETS.raw, "k", 60)
    with pytest.raises(UnsupportedOperation):
        await local_store.presigned_get(BUCKETS.raw, "k", 60)
    with pytest.raises(UnsupportedOperation):
        await local_store.presigned_part_url(BUCKETS.raw, "k", "0" * 32, 1, 60)
    with pytest.raises(UnsupportedOperation, match="presigned_part_url"):
        await s3_store.write_part(BUCKETS.raw, "k", "id", 1, b"x")
    with pytest.raises(ValueError):
        await s3_store.presigned_put(BUCKETS.raw, "k", 8 * 24 * 3600)


# --- object lock --------------------------------------------------------------------------


async def test_raw_objects_are_write_once_on_seaweedfs(s3_store: ObjectStore, prefix: str) -> None:
    assert s3_store.supports_object_lock
    bucket, key = BUCKETS.raw, f"{prefix}/locked.bin"
    info = await s3_store.put(bucket, key, b"evidence")
    assert info.version_id
    with pytest.raises(ObjectLocked):
        await s3_store.delete(bucket, key, version_id=info.version_id)
    # Deleting without a version only hides it behind a delete marker; the version stays.
    await s3_store.delete(bucket, key)
    assert await s3_store.stat(bucket, key) is None
    with pytest.raises(ObjectLocked):
        await s3_store.delete(bucket, key, version_id=info.version_id)
    # Artifacts are ordinary objects.
    await s3_store.put(BUCKETS.artifacts, key, b"derived")
    await s3_store.delete(BUCKETS.artifacts, key)
    await s3_store.ensure_buckets()  # idempotent
    assert s3_store.supports_object_lock


async def test_local_store_reports_no_object_lock(local_store: ObjectStore) -> None:
    assert not local_store.supports_object_lock
    with pytest.raises(UnsupportedOperation):
        await local_store.delete(BUCKETS.raw, "x", version_id="v1")


async def test_local_key_conflict(local_store: ObjectStore, prefix: str) -> None:
    await local_store.put(BUCKETS.artifacts, f"{prefix}/a", b"file")
    with pytest.raises(KeyConflict):
        await local_store.put(BUCKETS.artifacts, f"{prefix}/a/b", b"under a file")
    await local_store.put(BUCKETS.artifacts, f"{prefix}/d/e", b"x")
    with pytest.raises(KeyConflict):
        await local_store.put(BUCKETS.artifacts, f"{prefix}/d", b"over a prefix")


# --- availability and threads -------------------------------------------------------------


async def test_closed_port_is_store_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = S3ObjectStore(
        f"127.0.0.1:{port}", "k", "s", secure=False, retries=0, connect_timeout=1.0
    )
    try:
        with pytest.raises(StoreUnavailable) as caught:
            await store.stat(BUCKETS.raw, "x")
        assert caught.value.transient
        with pytest.raises(StoreUnavailable):
            await store.put(BUCKETS.raw, "x", b"data")
        with pytest.raises(StoreUnavailable):
            await store.check()
        # Presigning needs no connection.
        assert (await store.presigned_put(BUCKETS.raw, "x", 60)).startswith("http://127.0.0.1")
    finally:
        store.close()


async def test_sdk_calls_run_in_the_store_pool(s3_store: S3ObjectStore) -> None:
    name = await s3_store._run(lambda: threading.current_thread().name)
    assert name.startswith("satreps-S3ObjectStore")
    assert s3_store._executor._max_workers == 4


# --- keys and names -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "segments",
    [
        ("../x",),
        ("a", ".."),
        ("a/./b",),
        ("/abs",),
        ("a", "/abs"),
        ("a\x00b",),
        ("a\nb",),
        ("a\u202eb",),  # right-to-left override
        ("a\\b",),
        ("",),
        ("a", ""),
        ("a//b",),
        ("a/",),
        (" lead",),
        ("x" * 256,),
        ("é" * 128,),  # 256 bytes in UTF-8
        ("a/" * 600,),
        tuple("abcdefgh" * 16 for _ in range(9)),  # 9 * 129 > 1024 bytes
        (),
    ],
)
def test_safe_key_refuses(segments: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        safe_key(*segments)


def test_safe_key_builds_normalised_keys() -> None:
    decomposed = "re\u0301sume\u0301.csv"
    key = safe_key("uploads", "42", decomposed)
    assert key == "uploads/42/r\u00e9sum\u00e9.csv"
    assert safe_key("a/b", "c d", "x..y") == "a/b/c d/x..y"
    assert safe_key("x" * 255) == "x" * 255
    assert safe_key("日本語", "データ.csv") == "日本語/データ.csv"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\data.csv", "data.csv"),
        ('a<b>c:"d"|e?f*.txt', "a_b_c__d__e_f_.txt"),
        ("  spaced   out  .txt ", "spaced out .txt"),
        ("CON.txt", "_CON.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("line\nbreak", "linebreak"),
        ("..", "download"),
        ("", "download"),
        ("re\u0301sume\u0301.csv", "r\u00e9sum\u00e9.csv"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_sanitize_filename_caps_length_and_keeps_extension() -> None:
    name = sanitize_filename("é" * 300 + ".parquet")
    assert name.endswith(".parquet")
    assert len(name.encode()) <= 255


def test_content_disposition() -> None:
    assert content_disposition("résumé 2024.txt") == (
        "attachment; filename=\"resume 2024.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.txt"
    )
