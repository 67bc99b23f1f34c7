"""`satreps backup` and `satreps restore` as an operator runs them (subprocesses), in both
modes: the local store on SQLite, and S3 (SeaweedFS, a second bucket for the copies) on
PostgreSQL. The source holds a project, a published dataset with its provenance, and two
uploads in flight: one started and not sent (multipart), one a worker was processing. The
restore into an empty database and store finds every row, object and provenance record,
fixity passes on it, the in-flight uploads can be finished there, and a second restore into
the now non-empty target is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from server.access.auth import Principal, ensure_account
from server.core.config import Settings
from server.core.db import Base, make_engine, session_factory, utcnow
from server.core.url_signing import UrlSigner
from server.datasets import uploads
from server.http.app import create_app
from server.migrations import upgrade
from server.models import ProvNode, Upload
from server.models.enums import AccountRole, UploadState
from server.storage import ObjectStore, store_from_settings
from tests.conftest import postgres_database
from tests.factories import Factory
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx
from tests.fixtures.seaweed import SeaweedS3

SATREPS = str(Path(sys.executable).with_name("satreps"))
IN_FLIGHT_COLUMNS = {"state", "multipart_id", "lease_owner", "lease_expires_at", "queued_at"}


@dataclass
class Side:
    """One server's database and store, as settings and as the CLI's environment."""

    settings: Settings
    env: dict[str, str]


def side(url: str, objects: Path, seaweed: SeaweedS3 | None, suffix: str) -> Side:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update(SATREPS_DATABASE_URL=url, SATREPS_OBJECT_DIR=str(objects), NO_COLOR="1")
    values: dict[str, Any] = {"database_url": url}
    if seaweed is not None:
        buckets = {
            "bucket_raw": f"raw-{suffix}",
            "bucket_artifacts": f"artifacts-{suffix}",
            "bucket_provenance": f"provenance-{suffix}",
            "backup_bucket": f"backup-{suffix}",
        }
        values.update(buckets)
        env.update(
            SATREPS_S3_ENDPOINT=seaweed.endpoint,
            SATREPS_S3_ACCESS_KEY=seaweed.access_key,
            SATREPS_S3_SECRET_KEY=seaweed.secret_key,
            SATREPS_S3_SECURE="false",
            SATREPS_S3_REGION=seaweed.region,
            **{f"SATREPS_{k.upper()}": v for k, v in buckets.items()},
        )
        return Side(seaweed.settings(objects, **values), env)
    return Side(Settings(object_dir=objects, **values), env)


async def satreps(where: Side, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [SATREPS, *args], env=where.env, capture_output=True, text=True, timeout=300
    )


@contextmanager
def databases(mode: str, tmp: Path) -> Iterator[tuple[str, str]]:
    if mode == "local":
        yield f"sqlite+aiosqlite:///{tmp / 'source.db'}", f"sqlite+aiosqlite:///{tmp / 'target.db'}"
        return
    with postgres_database("satreps_backup_src") as source:
        with postgres_database("satreps_backup_dst") as target:
            yield source, target


async def rows_of(url: str) -> dict[str, list[dict[str, Any]]]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            found = {}
            for table in Base.metadata.sorted_tables:
                order = list(table.primary_key.columns) or list(table.columns)
                result = await conn.execute(select(table).order_by(*order))
                found[table.name] = [dict(row._mapping) for row in result]
            return found
    finally:
        await engine.dispose()


async def objects_of(store: ObjectStore) -> dict[tuple[str, str], str]:
    found = {}
    for role, bucket in zip(("raw", "artifacts", "provenance"), store.buckets.all(), strict=True):
        async for info in store.list(bucket):
            async with await store.open_read(bucket, info.key) as reader:
                import hashlib

                digest = hashlib.sha256()
                async for chunk in reader:
                    digest.update(chunk)
            found[(role, info.key)] = digest.hexdigest()
    return found


async def fill(settings: Settings, tmp: Path) -> tuple[int, int, int, int]:
    """A published version with one READY file; a multipart upload started and not sent; an
    upload a worker holds (PROCESSING, leased). Returns (version, ready, awaiting, held)."""
    url = settings.database_url
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    store = store_from_settings(settings)
    try:
        await store.ensure_buckets()
        async with sessions() as session:
            account = await ensure_account(session, "curator", AccountRole.ADMIN)
            await session.commit()
        factory = Factory(sessions, Principal(account_id=account.id, role=AccountRole.ADMIN))
        who = await team(sessions, factory)
        _, version = await dataset_draft(sessions, who)
        ready = await send(sessions, store, who, version)
        assert await process(worker_ctx(sessions, store, settings), ready) == "ready"
        await publish(sessions, who, version)
        _, draft = await dataset_draft(sessions, who, title="Tide gauges")
        async with sessions() as session:
            ticket = await uploads.start_upload(
                session,
                who.principal,
                store,
                UrlSigner.from_file(tmp / "url-key"),
                version_id=draft,
                filename="big.csv",
                byte_size=200 * 1024 * 1024,
                max_bytes=10**12,
            )
            await session.commit()
        awaiting = ticket.upload.id
        held = await send(sessions, store, who, draft, name="held.csv")
        async with sessions() as session:  # a worker's claim, as the pipeline writes it
            await session.execute(
                update(Upload)
                .where(Upload.id == held)
                .values(
                    state=UploadState.PROCESSING,
                    lease_owner="worker-gone",
                    lease_expires_at=utcnow() + dt.timedelta(hours=1),
                )
            )
            await session.commit()
        return version, ready, awaiting, held
    finally:
        store.close()
        await engine.dispose()


@pytest.fixture(params=["local", "s3"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_backup_and_restore_into_an_empty_server(mode: str, tmp_path: Path, request):
    seaweed = request.getfixturevalue("seaweed") if mode == "s3" else None
    tag = uuid.uuid4().hex[:8]
    with databases(mode, tmp_path) as (source_url, target_url):
        source = side(source_url, tmp_path / "source-objects", seaweed, f"src-{tag}")
        target = side(target_url, tmp_path / "target-objects", seaweed, f"dst-{tag}")
        version, ready, awaiting, held = await fill(source.settings, tmp_path)
        rows_before = await rows_of(source_url)
        source_store = store_from_settings(source.settings)
        objects_before = await objects_of(source_store)
        source_store.close()
        assert rows_before["prov_nodes"] and len(objects_before) >= 3

        backup_dir = tmp_path / "backup"
        done = await satreps(source, "backup", str(backup_dir))
        assert done.returncode == 0, done.stderr
        manifest = json.loads((backup_dir / "manifest.json").read_text())
        listed = {(e["role"], e["key"]): e["sha256"] for e in manifest["objects"]["entries"]}
        assert listed == objects_before
        if mode == "s3":  # the copies are in the second bucket, not in the directory
            assert manifest["objects"]["copies"]["bucket"] == f"backup-src-{tag}"
            assert not (backup_dir / "objects").exists()
            raw = [e for e in manifest["objects"]["entries"] if e["role"] == "raw"]
            assert raw and all(e["version_id"] for e in raw)  # the raw bucket is versioned
        again = await satreps(source, "backup", str(backup_dir))
        assert again.returncode == 1 and "BACKUP_DIR_NOT_EMPTY" in again.stderr

        done = await satreps(target, "restore", str(backup_dir))
        assert done.returncode == 0, done.stderr
        assert f"uploads to send again: [{awaiting}]" in done.stdout
        assert f"queued again: [{held}]" in done.stdout

        rows_after = await rows_of(target_url)
        for table, rows in rows_before.items():
            if table == "uploads":
                rows = [{k: v for k, v in r.items() if k not in IN_FLIGHT_COLUMNS} for r in rows]
                got = [
                    {k: v for k, v in r.items() if k not in IN_FLIGHT_COLUMNS}
                    for r in rows_after[table]
                ]
                assert got == rows, table
            else:
                assert rows_after[table] == rows, table
        target_store = store_from_settings(target.settings)
        try:
            assert await objects_of(target_store) == objects_before
            states = {r["id"]: r for r in rows_after["uploads"]}
            assert states[held]["state"] == UploadState.QUEUED and not states[held]["lease_owner"]
            assert states[awaiting]["state"] == UploadState.AWAITING_UPLOAD
            parts = await target_store.list_parts(
                target_store.buckets.raw,
                states[awaiting]["object_key"],
                states[awaiting]["multipart_id"],
            )
            assert parts == []  # a live multipart upload in the restored store
        finally:
            target_store.close()

        checked = await satreps(target, "fixity", str(version))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "fixity ok" in checked.stdout

        refused = await satreps(target, "restore", str(backup_dir))
        assert refused.returncode == 1 and "TARGET_NOT_EMPTY" in refused.stderr

        await held_upload_is_processed(target.settings, held)
        engine = make_engine(target_url)
        async with session_factory(engine)() as session:
            nodes = (await session.scalars(select(ProvNode.key))).all()
        await engine.dispose()
        assert {n["key"] for n in rows_before["prov_nodes"]} <= set(nodes)


async def held_upload_is_processed(settings: Settings, upload_id: int) -> None:
    """The restored server's reconciler queues the upload a worker held at the backup."""
    app = create_app(settings.model_copy(update={"upload_stale_queued_seconds": 0.1}))
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    try:
        async with app.router.lifespan_context(app):
            for _ in range(300):
                async with sessions() as session:
                    upload = await session.get(Upload, upload_id)
                    assert upload is not None
                    if upload.state == UploadState.READY:
                        return
                await asyncio.sleep(0.1)
        pytest.fail(f"upload {upload_id} not processed after restore: {upload.state}")
    finally:
        await engine.dispose()


async def test_a_bad_copy_or_no_backup_is_refused_before_anything_is_written(tmp_path: Path):
    from server.backup import BackupError, BackupErrorCode, backup, restore

    source = side(f"sqlite+aiosqlite:///{tmp_path / 'source.db'}", tmp_path / "src", None, "")
    target = side(f"sqlite+aiosqlite:///{tmp_path / 'target.db'}", tmp_path / "dst", None, "")
    await fill(source.settings, tmp_path)
    made = await backup(source.settings, tmp_path / "backup")
    assert made.objects >= 3

    with pytest.raises(BackupError) as refused:
        await restore(target.settings, tmp_path / "nothing-here")
    assert refused.value.code == BackupErrorCode.NOT_A_BACKUP

    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "manifest.json").write_text(json.dumps({**manifest, "objects": {"entries": 1}}))
    with pytest.raises(BackupError) as refused:
        await restore(target.settings, damaged)
    assert refused.value.code == BackupErrorCode.NOT_A_BACKUP
    entry = manifest["objects"]["entries"][-1]
    copy = tmp_path / "backup" / "objects" / entry["role"] / entry["key"]
    copy.write_bytes(copy.read_bytes()[:-1] + b"!")  # one byte changed
    with pytest.raises(BackupError) as refused:
        await restore(target.settings, tmp_path / "backup")
    assert refused.value.code == BackupErrorCode.OBJECT_CORRUPT
    assert entry["key"] in str(refused.value)
    assert not (tmp_path / "target.db").exists()  # nothing written
    store = store_from_settings(target.settings)
    assert await objects_of(store) == {}
    store.close()

    copy.unlink()
    with pytest.raises(BackupError) as refused:
        await restore(target.settings, tmp_path / "backup")
    assert refused.value.code == BackupErrorCode.OBJECT_MISSING

    with pytest.raises(BackupError) as refused:
        await backup(target.settings, tmp_path / "empty-backup")
    assert refused.value.code == BackupErrorCode.NOT_MIGRATED
    assert not (tmp_path / "target.db").exists()
    with postgres_database("satreps_backup_wrong") as url:
        elsewhere = Settings(database_url=url, object_dir=tmp_path / "pg")
        await asyncio.to_thread(upgrade, url)
        await asyncio.to_thread(upgrade, target.settings.database_url)
        fresh = await backup(target.settings, tmp_path / "empty-backup-2")  # no objects
        assert fresh.objects == 0
        with pytest.raises(BackupError) as refused:
            await restore(elsewhere, tmp_path / "empty-backup-2", force=True)
        assert refused.value.code == BackupErrorCode.WRONG_BACKEND
        engine = make_engine(url)  # --force dropped nothing of the wrong target
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("SELECT 1 FROM alembic_version")).first()
        await engine.dispose()


async def test_force_restores_over_a_server_that_has_data(tmp_path: Path):
    from server.backup import BackupError, BackupErrorCode, backup, restore

    source = side(f"sqlite+aiosqlite:///{tmp_path / 'source.db'}", tmp_path / "src", None, "")
    version, *_ = await fill(source.settings, tmp_path)
    await backup(source.settings, tmp_path / "backup")
    with pytest.raises(BackupError) as refused:  # the source itself is not empty
        await restore(source.settings, tmp_path / "backup")
    assert refused.value.code == BackupErrorCode.TARGET_NOT_EMPTY
    before = await rows_of(source.settings.database_url)
    await restore(source.settings, tmp_path / "backup", force=True)
    after = await rows_of(source.settings.database_url)
    assert after["prov_nodes"] == before["prov_nodes"]
    assert after["dataset_files"] == before["dataset_files"]
    checked = await satreps(source, "fixity", str(version))
    assert checked.returncode == 0, checked.stdout + checked.stderr
