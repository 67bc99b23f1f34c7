"""`satreps backup DIR` and `satreps restore DIR`.

A backup is a directory: `manifest.json` (every object's key, size, sha256 and version id,
the database file's name, the migration revision), the database snapshot, and the objects'
copies (under `objects/`, or in the backup bucket). The database is dumped first: objects
are write-once, so every object the dump names is there when the copy runs (one deleted in
between, by an abort, is missing from both the store and the manifest). A restore checks
that the target database and store are empty, verifies every copy against the manifest
before it writes anything, loads the database, puts the objects, and hands the uploads that
were in flight back to their owners and to the reconciler (see `settle_uploads`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from server.backup import database
from server.backup.copies import BucketCopies, Copies, DirectoryCopies, Hashed, digest_of
from server.backup.errors import BackupError, BackupErrorCode
from server.core.config import Settings, storage_workers
from server.core.db import make_engine, session_factory, utcnow
from server.migrations import upgrade
from server.models import Upload
from server.models.enums import UploadState
from server.storage import ObjectStore, S3ObjectStore, store_from_settings
from server.storage.base import Buckets

FORMAT = "satreps-backup/1"
MANIFEST = "manifest.json"
ROLES = ("raw", "artifacts", "provenance")


@dataclass
class Entry:
    role: str
    key: str
    size: int
    sha256: str
    version_id: str | None = None
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass
class BackupReport:
    directory: Path
    objects: int
    bytes: int
    database_seconds: float
    objects_seconds: float


@dataclass
class RestoreReport:
    objects: int
    bytes: int
    database_seconds: float
    objects_seconds: float
    reopened_uploads: list[int]
    requeued_uploads: list[int]


def _buckets(store: ObjectStore) -> dict[str, str]:
    return dict(zip(ROLES, store.buckets.all(), strict=True))


def backup_store(settings: Settings) -> S3ObjectStore | None:
    """The second bucket's store (S3 mode with SATREPS_BACKUP_BUCKET), made if missing."""
    if not (settings.s3_endpoint and settings.backup_bucket):
        return None
    name = settings.backup_bucket
    return S3ObjectStore(
        settings.s3_endpoint,
        settings.s3_access_key,
        settings.s3_secret_key.get_secret_value(),
        secure=settings.s3_secure,
        region=settings.s3_region,
        buckets=Buckets(name, name, name),
        raw_retention_days=0,  # versions locked against overwrite, no default retention
        max_workers=storage_workers(settings, local=False),
    )


def _database_url(settings: Settings, database_url: str | None) -> str:
    return database_url or settings.database_url


async def backup(
    settings: Settings, directory: Path, *, database_url: str | None = None
) -> BackupReport:
    await asyncio.to_thread(_new_directory, directory)
    url = _database_url(settings, database_url)
    started = time.monotonic()
    taken_at = utcnow()
    revision = await _revision(url)
    dump_file = await asyncio.to_thread(database.dump, url, directory)
    database_seconds = time.monotonic() - started

    store = store_from_settings(settings)
    second = backup_store(settings)
    try:
        copies: Copies
        if second is not None:
            await second.ensure_buckets()
            prefix = taken_at.strftime("%Y%m%dT%H%M%S%fZ")
            copies = BucketCopies(second, second.buckets.raw, prefix)
        else:
            copies = DirectoryCopies(directory / "objects")
        started = time.monotonic()
        entries = [entry async for entry in _copy_all(store, copies)]
        objects_seconds = time.monotonic() - started
    finally:
        store.close()
        if second is not None:
            second.close()
    manifest = {
        "format": FORMAT,
        "taken_at": taken_at.isoformat(),
        "database": {"backend": database.backend(url), "file": dump_file, "revision": revision},
        "objects": {"copies": copies.describe(), "entries": [asdict(e) for e in entries]},
    }
    await asyncio.to_thread(_write_last, directory / MANIFEST, json.dumps(manifest, indent=1))
    total = sum(e.size for e in entries)
    return BackupReport(directory, len(entries), total, database_seconds, objects_seconds)


def _write_last(path: Path, text: str) -> None:
    """The manifest, written last and whole (a backup cut short has none: NOT_A_BACKUP)."""
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)


def _new_directory(directory: Path) -> None:
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(
            BackupErrorCode.BACKUP_DIR_NOT_EMPTY, f"{directory} is not empty: give a new directory"
        )
    directory.mkdir(parents=True, exist_ok=True)


async def _copy_all(store: ObjectStore, copies: Copies) -> AsyncIterator[Entry]:
    for role, bucket in _buckets(store).items():
        async for listed in store.list(bucket):
            async with await store.open_read(bucket, listed.key) as reader:
                hashed = Hashed(reader)
                await copies.write(role, listed.key, hashed)
                info = reader.info
            yield Entry(
                role,
                listed.key,
                hashed.size,
                hashed.sha256,
                info.version_id,
                info.content_type,
                dict(info.metadata),
            )


async def _revision(database_url: str) -> str | None:
    if await database.is_empty(database_url):  # (a missing SQLite file is not made)
        raise BackupError(
            BackupErrorCode.NOT_MIGRATED,
            "the database has no satreps tables: nothing to back up (wrong URL?)",
        )
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except DBAPIError:
        raise BackupError(
            BackupErrorCode.NOT_MIGRATED,
            "the database has no satreps tables: nothing to back up (wrong URL?)",
        ) from None
    finally:
        await engine.dispose()


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(
            BackupErrorCode.NOT_A_BACKUP, f"{directory} has no readable {MANIFEST}: {error}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(BackupErrorCode.NOT_A_BACKUP, f"{directory} is not a {FORMAT} backup")
    return manifest


def _copies_of(settings: Settings, directory: Path, described: dict[str, str]) -> Copies:
    if not described:
        return DirectoryCopies(directory / "objects")
    store = backup_store(settings.model_copy(update={"backup_bucket": described["bucket"]}))
    if store is None:
        raise BackupError(
            BackupErrorCode.OBJECT_MISSING,
            f"the objects are in bucket {described['bucket']}: set SATREPS_S3_ENDPOINT",
        )
    return BucketCopies(store, described["bucket"], described["prefix"])


async def _store_is_empty(store: ObjectStore) -> bool:
    for bucket in store.buckets.all():
        async for _ in store.list(bucket):
            return False
    return True


async def restore(
    settings: Settings, directory: Path, *, force: bool = False, database_url: str | None = None
) -> RestoreReport:
    manifest = read_manifest(directory)
    url = _database_url(settings, database_url)
    try:
        entries = [Entry(**e) for e in manifest["objects"]["entries"]]
        described = dict(manifest["objects"]["copies"])
        dump_file = str(manifest["database"]["file"])
    except (KeyError, TypeError, ValueError) as error:
        raise BackupError(
            BackupErrorCode.NOT_A_BACKUP, f"the manifest of {directory} is damaged: {error!r}"
        ) from None
    database.expect(url, dump_file)
    copies = _copies_of(settings, directory, described)
    store = store_from_settings(settings)
    try:
        await store.ensure_buckets()
        if not force:
            if not await database.is_empty(url):
                raise BackupError(
                    BackupErrorCode.TARGET_NOT_EMPTY,
                    "the target database has tables: restore into an empty one (or --force)",
                )
            if not await _store_is_empty(store):
                raise BackupError(
                    BackupErrorCode.TARGET_NOT_EMPTY,
                    "the target object store has objects: restore into an empty one (or --force)",
                )
        for entry in entries:  # every copy checked before anything is written
            size, sha = await digest_of(copies.read(entry.role, entry.key))
            if (size, sha) != (entry.size, entry.sha256):
                raise BackupError(
                    BackupErrorCode.OBJECT_CORRUPT,
                    f"the copy of {entry.role}/{entry.key} does not match the manifest",
                )
        started = time.monotonic()
        if force:
            await database.wipe(url)
        await asyncio.to_thread(database.load, url, directory, dump_file)
        await asyncio.to_thread(upgrade, url)  # a backup of an older release: up to this one
        database_seconds = time.monotonic() - started
        started = time.monotonic()
        buckets = _buckets(store)
        for entry in entries:
            await _put(store, buckets[entry.role], entry, copies)
        objects_seconds = time.monotonic() - started
        reopened, requeued = await settle_uploads(url, store)
    finally:
        store.close()
        if isinstance(copies, BucketCopies):
            copies.store.close()
    total = sum(e.size for e in entries)
    return RestoreReport(len(entries), total, database_seconds, objects_seconds, reopened, requeued)


async def _put(store: ObjectStore, bucket: str, entry: Entry, copies: Copies) -> None:
    info = await store.put(
        bucket,
        entry.key,
        copies.read(entry.role, entry.key),
        size=entry.size,
        content_type=entry.content_type,
        metadata=entry.metadata or None,
    )
    if info.sha256 is not None and info.sha256 != entry.sha256:
        raise BackupError(
            BackupErrorCode.OBJECT_CORRUPT, f"{entry.role}/{entry.key} changed while restoring"
        )


async def settle_uploads(database_url: str, store: ObjectStore) -> tuple[list[int], list[int]]:
    """Uploads in flight at the backup. One still awaiting its bytes gets a new multipart
    upload in the restored store (its parts sent before were not in the backup): its client
    asks for fresh URLs (refreshUploadUrls) and sends every part again; a single-PUT one just
    asks for a fresh URL. One that was processing is QUEUED again, its lease dropped: the
    reconciler queues it on its first round after SATREPS_UPLOAD_STALE_QUEUED_SECONDS."""
    engine = make_engine(database_url)
    reopened: list[int] = []
    requeued: list[int] = []
    try:
        async with session_factory(engine)() as session:
            waiting = await session.scalars(
                select(Upload).where(
                    Upload.state.in_([UploadState.AWAITING_UPLOAD, UploadState.PROCESSING])
                )
            )
            for upload in waiting:
                if upload.state == UploadState.PROCESSING:
                    upload.state = UploadState.QUEUED
                    upload.lease_owner = None
                    upload.lease_expires_at = None
                    upload.queued_at = utcnow() - dt.timedelta(days=1)
                    requeued.append(upload.id)
                elif upload.multipart_id is not None:
                    upload.multipart_id = await store.create_multipart(
                        store.buckets.raw, upload.object_key, upload.content_type
                    )
                    reopened.append(upload.id)
                else:
                    reopened.append(upload.id)
            await session.commit()
    finally:
        await engine.dispose()
    return sorted(reopened), sorted(requeued)
