"""A declared sha256 signed into the presigned PUT (x-amz-checksum-sha256) on a real S3
server (SeaweedFS): the store refuses other bytes, and the worker takes the store's
checksum instead of reading an opaque file back whole (workers/raw_reads.py). A format
that needs its bytes, an upload without a declared sha256 and a store without checksums
are still read whole; a size or checksum that differs from the declared one still fails."""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from server.core.config import Settings
from server.http import folder_transfer
from server.http.client_retry import BAD_DIGEST
from server.http.folder_walk import FileCode, Local
from server.models import ProvEdge, ProvNode, Upload
from server.models import ProvRelation as R
from server.storage import store_from_settings
from server.storage.s3 import S3ObjectStore
from tests.fixtures.seaweed import SeaweedS3
from tests.schema.test_upload_batches import COMPLETE, FILES
from tests.schema.test_upload_batches_s3 import START
from tests.schema.test_uploads import draft_version
from workers.processing import ProcessingError, process_known
from workers.processing.model import Limits

MiB = 1024 * 1024
HEAD = Limits().head_bytes
STATES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    uploads { path state errorCode } } } }"""


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(
        tmp_path / "objects",
        database_url="sqlite+aiosqlite:///unused.db",
        s3_put_checksums=getattr(request, "param", True),
    )


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int | None]]:
    """Every read of an object: (key, offset, length; None = to its end)."""
    seen: list[tuple[str, int, int | None]] = []
    original = S3ObjectStore.open_read

    async def recorded(self: Any, bucket: str, key: str, offset: int = 0, length: Any = None):
        seen.append((key, offset, length))
        return await original(self, bucket, key, offset, length)

    monkeypatch.setattr(S3ObjectStore, "open_read", recorded)
    return seen


@pytest.fixture
def stats(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every HEAD of an object: (key, whether the store's checksum was asked for)."""
    seen: list[tuple[str, bool]] = []
    original = S3ObjectStore.stat

    async def recorded(self: Any, bucket: str, key: str, *, checksum: bool = False) -> Any:
        seen.append((key, checksum))
        return await original(self, bucket, key, checksum=checksum)

    monkeypatch.setattr(S3ObjectStore, "stat", recorded)
    return seen


def declared(path: str, data: bytes, **changes: Any) -> dict[str, Any]:
    return {
        "path": path,
        "byteSize": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        **changes,
    }


async def start(admin: Any, version: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    entries = (await admin(START, {"v": version, "files": files}))["startUploads"]["entries"]
    assert [e["errors"] for e in entries] == [[] for _ in files]
    return list(entries)


async def put(entry: dict[str, Any], data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as s3:
        return await s3.put(entry["instructions"]["putUrl"], content=data)


async def steps_of(sessions: Any) -> list[list[str]]:
    """The processing steps each file's ingest records: on the activity of a file processed
    alone, on the `used` edge to its raw object for a file of a batch."""
    async with sessions() as session:
        nodes = await session.scalars(select(ProvNode).where(ProvNode.type == "ingest"))
        edges = await session.scalars(select(ProvEdge).where(ProvEdge.relation == R.USED))
        found = [n.attributes or {} for n in nodes] + [e.attributes or {} for e in edges]
        return [list(a["steps"]) for a in found if a.get("steps")]


def reads_of(reads: list[tuple[str, int, int | None]], entry: dict[str, Any]) -> list:
    """The reads of this upload's object (its key ends with its file name, which no other
    file of a test shares)."""
    name = entry["upload"]["path"].rsplit("/", 1)[-1]
    return [r for r in reads if r[0].endswith(f"/uploads/{r[0].split('/')[-2]}/{name}")]


def whole_reads(reads: list[tuple[str, int, int | None]], entry: dict[str, Any]) -> list:
    return [r for r in reads_of(reads, entry) if r[2] is None]


async def test_the_store_refuses_bytes_other_than_the_declared_ones(admin, factory):
    version = await draft_version(admin, factory)
    data = os.urandom(4096)
    other = bytearray(data)
    other[100] ^= 1
    # a name of its own: the SeaweedFS is the session's, and the keys of a run on the other
    # database would be the same
    name = f"raw/{uuid.uuid4().hex}.bin"
    (entry,) = await start(admin, version, [declared(name, data)])
    assert "x-amz-checksum-sha256=" in entry["instructions"]["putUrl"]
    refused = await put(entry, bytes(other))
    assert refused.status_code == 400 and "<Code>BadDigest</Code>" in refused.text
    done = (await admin(COMPLETE, {"ids": [entry["upload"]["id"]]}))["completeUploads"]
    assert [e["code"] for e in done["entries"][0]["errors"]] == ["NOT_UPLOADED"]
    assert (await put(entry, data)).status_code == 200


async def test_an_opaque_file_is_not_read_back_whole(admin, factory, jobs, sessions, reads, stats):
    """A file of 5 MiB and one a byte larger than the head (one batch job): READY with their
    sha256, read only as far as their first bytes, and their ingest says the store's
    checksum stood for the hash. The store is asked for its checksum once, by
    `completeUploads`' HEAD; the worker takes it from the row."""
    version = await draft_version(admin, factory)
    blobs = [os.urandom(5 * MiB), os.urandom(HEAD + 1)]
    entries = await start(
        admin, version, [declared(f"raw/{i}.bin", b) for i, b in enumerate(blobs)]
    )
    for entry, data in zip(entries, blobs, strict=True):
        assert (await put(entry, data)).status_code == 200
    await admin(COMPLETE, {"ids": [e["upload"]["id"] for e in entries]})
    await jobs.drain()
    listed = (await admin(FILES, {"v": version}))["node"]["files"]["nodes"]
    assert listed == [
        {"path": f"raw/{i}.bin", "sha256": hashlib.sha256(b).hexdigest()}
        for i, b in enumerate(blobs)
    ]
    for entry in entries:
        assert whole_reads(reads, entry) == []
        assert {r[2] for r in reads_of(reads, entry)} == {HEAD}
        name = "/" + entry["upload"]["path"].rsplit("/", 1)[-1]
        assert [asked for key, asked in stats if key.endswith(name)] == [True]
    assert {s[0] for s in await steps_of(sessions)} == {"store-checksum"}


async def test_an_object_changed_after_completion_is_read_whole(
    admin, factory, jobs, sessions, reads, settings
):
    """The row keeps the store's checksum read at completion; an object whose size is no
    longer the completed one (overwritten with the store's own credentials) is read and
    hashed whole, and fails as such, not passed on the row's word."""
    version = await draft_version(admin, factory)
    data = os.urandom(2 * MiB)
    (entry,) = await start(admin, version, [declared(f"raw/{uuid.uuid4().hex}.bin", data)])
    assert (await put(entry, data)).status_code == 200
    await admin(COMPLETE, {"ids": [entry["upload"]["id"]]})
    async with sessions() as session:
        upload = await session.scalar(select(Upload).where(Upload.path == entry["upload"]["path"]))
        assert upload is not None
        assert upload.store_sha256 == hashlib.sha256(data).hexdigest()
    store = store_from_settings(settings)
    other = data + b"x"
    await store.put(store.buckets.raw, upload.object_key, other, size=len(other))
    store.close()
    await jobs.drain()
    uploads = (await admin(STATES, {"v": version}))["node"]["uploads"]
    assert [(u["state"], u["errorCode"]) for u in uploads] == [("FAILED", "SIZE_MISMATCH")]
    assert len(whole_reads(reads, entry)) == 1


async def test_a_csv_an_undeclared_sha256_and_a_small_file_are_read_whole(
    admin, factory, jobs, sessions, reads
):
    """Read and hashed whole: a CSV (told from its head, which the whole read takes up
    rather than asking for it again), an upload without a declared sha256, and a file no
    larger than the head."""
    version = await draft_version(admin, factory)
    rows = b"".join(b"BKK-%06d,1.%d\n" % (i, i % 10) for i in range(400_000))
    csv = b"station,level\n" + rows  # larger than the head, as the undeclared one
    undeclared = os.urandom(5 * MiB)
    small = os.urandom(HEAD)  # no larger than the head: that read is the whole object
    files = [
        declared("raw/levels.csv", csv),
        {"path": "raw/blob.bin", "byteSize": len(undeclared)},
        declared("raw/small.bin", small),
    ]
    entries = await start(admin, version, files)
    assert "x-amz-checksum-sha256=" not in entries[1]["instructions"]["putUrl"]
    for entry, data in zip(entries, (csv, undeclared, small), strict=True):
        assert (await put(entry, data)).status_code == 200
    await admin(COMPLETE, {"ids": [e["upload"]["id"] for e in entries]})
    await jobs.drain()
    uploads = (await admin(STATES, {"v": version}))["node"]["uploads"]
    assert {u["state"] for u in uploads} == {"READY"}
    ranges = [[r[1:] for r in reads_of(reads, entry)] for entry in entries]
    assert ranges == [[(0, HEAD), (HEAD, None)], [(0, None)], [(0, None)]]
    assert {s[0] for s in await steps_of(sessions)} == {"hash"}


@pytest.mark.parametrize("settings", [False], indirect=True)
async def test_a_store_without_checksums_is_read_whole(admin, factory, jobs, sessions, reads):
    """`s3_put_checksums` off (a store that keeps no S3 checksums): no checksum in the URL,
    the worker finds none and hashes every byte."""
    version = await draft_version(admin, factory)
    data = os.urandom(5 * MiB)
    (entry,) = await start(admin, version, [declared("raw/a.bin", data)])
    assert "x-amz-checksum-sha256=" not in entry["instructions"]["putUrl"]
    assert (await put(entry, data)).status_code == 200
    await admin(COMPLETE, {"ids": [entry["upload"]["id"]]})
    await jobs.drain()
    assert len(whole_reads(reads, entry)) == 1
    assert {s[0] for s in await steps_of(sessions)} == {"hash"}


def test_the_known_pass_checks_the_stores_size_and_sha256_against_the_declared_ones(
    tmp_path: Path,
) -> None:
    """process_known: the store's size and sha256 stand for a pass's own, and are checked
    as they would be; a format that needs more than its first bytes gives None."""
    data = os.urandom(MiB)
    head, sha = data[:HEAD], hashlib.sha256(data).hexdigest()

    def known(head: bytes = head, **declared: Any) -> Any:
        facts = {"declared_size": len(data), "declared_sha256": sha, **declared}
        return process_known(
            head, filename="a.bin", size=len(data), sha256=sha, workdir=tmp_path, **facts
        )

    result = known()
    assert (result.size, result.sha256, result.sha256_by) == (len(data), sha, "store-checksum")
    assert result.format.kind == "opaque"
    with pytest.raises(ProcessingError) as size:
        known(declared_size=len(data) + 1)
    with pytest.raises(ProcessingError) as checksum:
        known(declared_sha256="0" * 64)
    assert (size.value.code, checksum.value.code) == ("SIZE_MISMATCH", "CHECKSUM_MISMATCH")
    csv = b"station,level\n" + b"BKK-01,1.5\n" * 10_000
    assert known(csv[:HEAD]) is None  # a CSV is profiled from all its rows


def test_bytes_other_than_the_hashed_ones_are_refused_by_the_store(
    tmp_path: Path, seaweed: SeaweedS3
) -> None:
    """A file that changed after it was hashed: the store refuses its bytes against the
    sha256 signed into the URL (BadDigest, not tried again), and the file is a
    CHECKSUM_MISMATCH with the reason said, not a bare TRANSFER_FAILED."""
    store = store_from_settings(seaweed.settings(tmp_path / "objects"))
    asyncio.run(store.ensure_buckets())
    root = tmp_path / "folder"
    root.mkdir()
    (root / "a.bin").write_bytes(b"changed" * 1000)
    hashed = hashlib.sha256(b"earlier" * 1000).hexdigest()
    key = f"folder-tests/{uuid.uuid4().hex}/a.bin"
    url = asyncio.run(store.presigned_put(store.buckets.raw, key, 300, sha256=hashed))
    local = Local("a.bin", 7000, 0, sha256=hashed, upload="u1", put_url=url)
    up = folder_transfer.Uploader("http://127.0.0.1:9/graphql", None, progress=False)
    folder_transfer.FolderUpload(up, root, "v1", tmp_path / "state.json", 1, str).put(local)
    assert local.code == FileCode.CHECKSUM_MISMATCH and not local.sent
    assert local.refused == BAD_DIGEST
    assert asyncio.run(store.stat(store.buckets.raw, key)) is None
    store.close()
