"""Fault 5 on a real S3 server (SeaweedFS, object lock on): an object overwritten or deleted
behind the server's back (a new version, a delete marker: what the lock still allows) is
found by fixity, and no download URL is issued for it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from minio import Minio
from sqlalchemy import select
from strawberry.relay import to_base64

from server.core.config import Settings
from server.core.db import utcnow
from server.models import DatasetFile
from server.provenance.fixity_schedule import run_due
from server.storage import store_from_settings
from tests.fixtures.compiled_world import answer
from tests.fixtures.provenance import CSV, dataset_draft, process, send, team, worker_ctx
from tests.fixtures.seaweed import SeaweedS3

DOWNLOAD = "query($f: ID!) { node(id: $f) { ... on DatasetFile { downloadUrl { url } } } }"


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


async def test_overwritten_and_deleted_objects_on_s3(
    gql: Any, sessions: Any, settings: Settings, factory: Any, make_token: Any, seaweed: SeaweedS3
) -> None:
    from server.models.enums import AccountRole

    store = store_from_settings(settings)
    await store.ensure_buckets()
    assert store.supports_object_lock
    files = []
    for name in ("altered.csv", "deleted.csv", "intact.csv"):
        who = await team(sessions, factory)
        _, version = await dataset_draft(sessions, who)
        upload = await send(sessions, store, who, version, name=name)
        assert await process(worker_ctx(sessions, store, settings), upload) == "ready"
        async with sessions() as session:
            row = await session.scalar(select(DatasetFile).where(DatasetFile.upload_id == upload))
        files.append(row)
    altered, deleted, intact = files
    token = await make_token(AccountRole.ADMIN)
    # a URL is issued while the bytes are right
    status, body = await answer(gql.http, token, DOWNLOAD, {"f": gid(intact)})
    assert status == 200 and body["data"]["node"]["downloadUrl"]["url"].startswith("http")

    s3 = Minio(
        seaweed.endpoint,
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
        secure=False,
        region=seaweed.region,
    )
    tampered = CSV.replace(b"1.52", b"9.99")
    s3.put_object(settings.bucket_raw, altered.raw_key, io.BytesIO(tampered), len(tampered))
    s3.remove_object(settings.bucket_raw, deleted.raw_key)  # a delete marker

    try:
        run = await run_due(sessions, store, checked_before=utcnow())
    finally:
        store.close()
    found = {f.file_id: f.outcome.value for f in run.failures}
    assert found.get(altered.id) == "mismatch" and found.get(deleted.id) == "missing"
    assert intact.id not in found

    for row in (altered, deleted):
        status, body = await answer(gql.http, token, DOWNLOAD, {"f": gid(row)})
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "FIXITY_FAILED", body
    status, body = await answer(gql.http, token, DOWNLOAD, {"f": gid(intact)})
    assert "errors" not in body, body


def gid(row: DatasetFile) -> str:
    return to_base64("DatasetFile", row.id)
