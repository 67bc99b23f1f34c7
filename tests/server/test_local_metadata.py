"""Where the local store keeps an object's metadata: an extended attribute of its file (no
sidecar file, no sidecar directory: each inode costs the kernel about 0.65 ms on ext4), a
sidecar file where the file system cannot keep one, and objects written before the
attribute keep their sidecar's sha256 and metadata."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.storage import Buckets, LocalObjectStore, StorageError
from server.storage import local as local_module
from server.storage.local_files import META_XATTR

BUCKETS = Buckets()
DATA = b"station,level\nST-1,2.5\n" * 450  # about 10 KiB


async def store_at(root: Path, **options: bool) -> LocalObjectStore:
    store = LocalObjectStore(root, BUCKETS, chunk_size=64 * 1024, **options)
    await store.ensure_buckets()
    return store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalObjectStore]:
    store = await store_at(tmp_path / "objects")
    if not store.xattrs:
        pytest.skip(f"{tmp_path} keeps no user extended attributes")
    yield store
    store.close()


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def sidecars(store: LocalObjectStore) -> list[Path]:
    return [p for p in (store.root / ".satreps" / "meta").rglob("*") if p.is_file()]


def label_of(path: Path) -> dict[str, object] | None:
    try:
        return json.loads(os.getxattr(path, META_XATTR))
    except OSError:
        return None


def write_the_old_way(store: LocalObjectStore, bucket: str, key: str, data: bytes) -> Path:
    """An object as the store wrote it before the attribute: a file and a sidecar."""
    path = store.root / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    st = path.stat()
    sidecar = store.root / ".satreps" / "meta" / bucket / f"{key}.json"
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "inode": st.st_ino,
        "size": st.st_size,
        "sha256": hashlib.sha256(data).hexdigest(),
        "content_type": "text/csv",
        "metadata": {"upload-id": "u-old"},
    }
    sidecar.write_text(json.dumps(record))
    return sidecar


async def assert_described(
    store: LocalObjectStore, bucket: str, key: str, data: bytes, upload_id: str = "u-1"
) -> None:
    """stat, open_read and list all give back the sha256, content type and metadata."""
    sha = hashlib.sha256(data).hexdigest()
    meta = {"upload-id": upload_id}
    stat = await store.stat(bucket, key)
    assert stat is not None
    assert (stat.sha256, stat.size, stat.content_type) == (sha, len(data), "text/csv")
    assert stat.metadata == meta
    async with await store.open_read(bucket, key) as reader:
        assert (reader.info.sha256, reader.info.metadata) == (sha, meta)
    listed = [info async for info in store.list(bucket, key)]
    assert [(i.key, i.sha256, i.metadata) for i in listed] == [(key, sha, meta)]


# --- the attribute ------------------------------------------------------------------------


@pytest.mark.parametrize("bucket", [BUCKETS.raw, BUCKETS.artifacts])
async def test_a_put_creates_its_file_and_directory_only(
    store: LocalObjectStore, bucket: str
) -> None:
    before = tree(store.root)
    meta = {"upload-id": "u-1"}
    info = await store.put(bucket, "v1/site/a.csv", DATA, content_type="text/csv", metadata=meta)

    assert tree(store.root) - before == {
        bucket + "/v1",
        bucket + "/v1/site",
        bucket + "/v1/site/a.csv",
    }
    assert sidecars(store) == []
    path = store.root / bucket / "v1" / "site" / "a.csv"
    assert os.listdir(path.parent) == ["a.csv"]
    assert label_of(path) == {
        "inode": path.stat().st_ino,
        "size": len(DATA),
        "sha256": hashlib.sha256(DATA).hexdigest(),
        "content_type": "text/csv",
        "metadata": meta,
    }
    assert info.sha256 == hashlib.sha256(DATA).hexdigest()
    await assert_described(store, bucket, "v1/site/a.csv", DATA)


async def test_copy_and_multipart_label_their_object(store: LocalObjectStore) -> None:
    meta = {"upload-id": "u-1"}
    await store.put(BUCKETS.artifacts, "src.csv", DATA, content_type="text/csv", metadata=meta)
    await store.copy(BUCKETS.artifacts, "src.csv", BUCKETS.raw, "copied.csv")
    upload_id = await store.create_multipart(
        BUCKETS.raw, "parts.csv", content_type="text/csv", metadata=meta
    )
    part = await store.write_part(BUCKETS.raw, "parts.csv", upload_id, 1, DATA)
    await store.complete_multipart(BUCKETS.raw, "parts.csv", upload_id, [part])

    assert sidecars(store) == []
    for key in ("copied.csv", "parts.csv"):
        assert label_of(store.root / BUCKETS.raw / key) is not None
        await assert_described(store, BUCKETS.raw, key, DATA)


async def test_an_attribute_is_trusted_only_while_the_size_matches(
    store: LocalObjectStore,
) -> None:
    await store.put(BUCKETS.artifacts, "grows.csv", DATA, content_type="text/csv")
    with (store.root / BUCKETS.artifacts / "grows.csv").open("ab") as out:
        out.write(b"appended behind the store's back\n")
    stat = await store.stat(BUCKETS.artifacts, "grows.csv")
    assert stat is not None and stat.sha256 is None and stat.content_type is None


async def test_metadata_too_large_for_an_attribute_goes_to_a_sidecar(
    store: LocalObjectStore,
) -> None:
    """ext4 keeps one block of attributes and answers ENOSPC past it (a real refusal, on
    whatever file system the test runs: the record must come back either way)."""
    meta = {"note": "x" * 6000}
    await store.put(BUCKETS.artifacts, "big.csv", DATA, content_type="text/csv", metadata=meta)
    stat = await store.stat(BUCKETS.artifacts, "big.csv")
    assert stat is not None and stat.metadata == meta
    assert stat.sha256 == hashlib.sha256(DATA).hexdigest()
    has_label = label_of(store.root / BUCKETS.artifacts / "big.csv") is not None
    assert has_label != bool(sidecars(store))


# --- objects written before the attribute --------------------------------------------------


async def test_objects_with_a_sidecar_keep_their_metadata(store: LocalObjectStore) -> None:
    sidecar = write_the_old_way(store, BUCKETS.artifacts, "old/a.csv", DATA)
    await assert_described(store, BUCKETS.artifacts, "old/a.csv", DATA, "u-old")

    copied = await store.copy(BUCKETS.artifacts, "old/a.csv", BUCKETS.artifacts, "new/a.csv")
    assert (copied.content_type, copied.metadata) == ("text/csv", {"upload-id": "u-old"})
    assert label_of(store.root / BUCKETS.artifacts / "new" / "a.csv") is not None
    assert sidecars(store) == [sidecar]

    await store.delete(BUCKETS.artifacts, "old/a.csv")
    assert not sidecar.exists()


async def test_a_sidecar_of_another_inode_is_not_trusted(store: LocalObjectStore) -> None:
    write_the_old_way(store, BUCKETS.artifacts, "swapped.csv", DATA)
    path = store.root / BUCKETS.artifacts / "swapped.csv"
    other = path.with_name("other.tmp")
    other.write_bytes(DATA)  # the same size, another file (made first: another inode)
    os.replace(other, path)
    stat = await store.stat(BUCKETS.artifacts, "swapped.csv")
    assert stat is not None and stat.sha256 is None and stat.metadata == {}


async def test_replacing_an_old_object_removes_its_sidecar(store: LocalObjectStore) -> None:
    sidecar = write_the_old_way(store, BUCKETS.artifacts, "p.json", DATA)
    await store.put(BUCKETS.artifacts, "p.json", b"{}", content_type="application/json")
    assert not sidecar.exists()
    stat = await store.stat(BUCKETS.artifacts, "p.json")
    assert stat is not None and stat.content_type == "application/json"


# --- where the file system keeps no attribute ---------------------------------------------


async def forced_sidecars(
    how: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> LocalObjectStore:
    if how == "flag":
        return await store_at(root, xattrs=False)
    if how == "probe":
        monkeypatch.setattr(local_module, "can_label", lambda directory: False)
    else:  # a platform without xattr calls (macOS, Windows)
        monkeypatch.delattr(os, "setxattr")
        monkeypatch.delattr(os, "getxattr")
    return await store_at(root)


@pytest.mark.parametrize("how", ["flag", "probe", "platform"])
async def test_without_attributes_each_object_gets_a_sidecar(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await forced_sidecars(how, tmp_path / "objects", monkeypatch)
    assert store.xattrs is False
    meta = {"upload-id": "u-1"}
    for bucket in (BUCKETS.raw, BUCKETS.artifacts):
        await store.put(bucket, "v1/a.csv", DATA, content_type="text/csv", metadata=meta)
        again = await store.put(bucket, "v1/a.csv", DATA, content_type="text/csv", metadata=meta)
        assert again.metadata == meta
        await assert_described(store, bucket, "v1/a.csv", DATA)
    await store.copy(BUCKETS.raw, "v1/a.csv", BUCKETS.artifacts, "v2/a.csv")
    await assert_described(store, BUCKETS.artifacts, "v2/a.csv", DATA)

    assert len(sidecars(store)) == 3
    monkeypatch.undo()
    assert label_of(store.root / BUCKETS.raw / "v1" / "a.csv") is None
    await store.delete(BUCKETS.artifacts, "v1/a.csv")
    assert len(sidecars(store)) == 2
    assert list((store.root / ".satreps" / "tmp").iterdir()) == []
    store.close()


@pytest.mark.parametrize("code", [errno.ENOTSUP, errno.EPERM, errno.E2BIG])
async def test_an_attribute_refused_for_one_object_falls_back_to_its_sidecar(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    def refuse(fd: int, name: str, value: bytes) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "setxattr", refuse)
    await store.put(
        BUCKETS.raw, "a.csv", DATA, content_type="text/csv", metadata={"upload-id": "u-1"}
    )
    monkeypatch.undo()

    assert store.xattrs  # decided once per store: the next object tries again
    assert len(sidecars(store)) == 1 and label_of(store.root / BUCKETS.raw / "a.csv") is None
    await assert_described(store, BUCKETS.raw, "a.csv", DATA)
    await store.put(BUCKETS.raw, "b.csv", DATA, content_type="text/csv")
    assert label_of(store.root / BUCKETS.raw / "b.csv") is not None


async def test_another_attribute_error_fails_the_put_and_leaves_nothing(
    store: LocalObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(fd: int, name: str, value: bytes) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "setxattr", broken)
    with pytest.raises(StorageError):
        await store.put(BUCKETS.raw, "io.csv", DATA)
    assert not (store.root / BUCKETS.raw / "io.csv").exists()
    assert list((store.root / ".satreps" / "tmp").iterdir()) == []
    assert sidecars(store) == []
