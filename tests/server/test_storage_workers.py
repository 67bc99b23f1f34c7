"""How many threads the object store gets (Settings.storage_workers, 0: by kind of store)."""

from __future__ import annotations

from pathlib import Path

from server.core.config import Settings
from server.storage import store_from_settings
from server.storage.local import LocalObjectStore
from server.storage.s3 import S3ObjectStore


def make(tmp_path: Path, **settings: object) -> object:
    return store_from_settings(Settings(object_dir=tmp_path / "objects", **settings))  # type: ignore[arg-type]


def test_the_local_store_gets_two_threads_and_s3_eight_by_default(tmp_path: Path) -> None:
    local = make(tmp_path)
    s3 = make(tmp_path, s3_endpoint="127.0.0.1:9", s3_access_key="k", s3_secret_key="s")
    assert isinstance(local, LocalObjectStore) and local.max_workers == 2
    assert isinstance(s3, S3ObjectStore) and s3.max_workers == 8
    local.close()
    s3.close()


def test_the_setting_overrides_both(tmp_path: Path) -> None:
    local = make(tmp_path, storage_workers=5)
    s3 = make(
        tmp_path, storage_workers=5, s3_endpoint="127.0.0.1:9", s3_access_key="k", s3_secret_key="s"
    )
    assert (local.max_workers, s3.max_workers) == (5, 5)  # type: ignore[attr-defined]
    local.close()  # type: ignore[attr-defined]
    s3.close()  # type: ignore[attr-defined]
