"""Faults on the production stack (PostgreSQL, Redis, SeaweedFS, `satreps worker` processes):
a worker SIGKILLed mid-job, a flushed Redis, an unreachable S3. The database stays the truth:
every upload ends READY, exactly once.

Slow by nature (a real 30 s lease and the reconciler's 15 s cron): about 75 s in all.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import update
from strawberry.relay import from_base64

from server.core.db import utcnow
from server.models import Upload
from server.models.enums import UploadState
from tests.fixtures.stack import REDIS_URL, Stack, SwitchableProxy, write_csv
from workers.main import QUEUE
from workers.pipeline import LEASE, STALE_QUEUED


def pk(global_id: str) -> int:
    return int(from_base64(global_id)[1])


def finished(upload: Upload) -> bool:
    return upload.state in (UploadState.READY, UploadState.FAILED, UploadState.REJECTED)


async def test_a_worker_killed_mid_job_is_replaced_and_the_file_appears_once(
    stack: Stack,
    tmp_path: Path,
):
    path = tmp_path / "levels.csv"
    sha = write_csv(path, 160)  # seconds of processing; a multipart upload
    version = await stack.draft_version()
    first = await stack.start_worker()
    upload_gid = await stack.put_file(version, "levels.csv", path, sha)
    upload_id = pk(upload_gid)
    assert (await stack.complete(upload_gid))["upload"]["state"] == "QUEUED"

    running = await stack.wait_for(
        upload_id, lambda u: u.state == UploadState.PROCESSING, 30, "PROCESSING", every=0.02
    )
    assert running.lease_owner is not None and running.lease_owner.split(":")[1] == str(first.pid)
    await asyncio.sleep(0.5)  # well inside the job (reading and profiling 160 MiB)
    first.kill()  # SIGKILL: no clean-up, no release; the heartbeat stops

    orphan = await stack.upload(upload_id)
    assert orphan.state == UploadState.PROCESSING, "the job ended before the kill"
    assert orphan.attempts == 1 and orphan.lease_owner == running.lease_owner
    assert orphan.lease_expires_at is not None
    assert utcnow() < orphan.lease_expires_at <= utcnow() + LEASE
    assert await stack.files_of(upload_id) == 0
    lease_end = orphan.lease_expires_at

    await stack.start_worker()  # a replacement, at once
    # While the dead worker's lease runs, nobody else takes the upload.
    while utcnow() < lease_end - dt.timedelta(seconds=0.5):
        held = await stack.upload(upload_id)
        assert (held.state, held.attempts, held.lease_owner) == (
            UploadState.PROCESSING,
            1,
            running.lease_owner,
        )
        await asyncio.sleep(0.5)
    # The reconciler (every 15 s) finds the expired lease and queues attempt 2.
    done = await stack.wait_for(upload_id, finished, 60, "finished", every=0.2)
    assert done.state == UploadState.READY, (done.error_code, done.error_message)
    assert done.attempts == 2
    assert done.started_at is not None and done.started_at >= lease_end
    assert done.sha256 == sha and done.size == path.stat().st_size
    assert done.lease_owner is None and done.lease_expires_at is None
    assert await stack.files_of(upload_id) == 1
    keys = await stack.artifact_keys(upload_id)
    assert keys and all("/attempt-2/" in key for key in keys), keys
    assert await stack.job_ran(f"process_upload:{upload_id}:1")  # queued by the reconciler


async def test_a_flushed_redis_loses_no_upload(
    stack: Stack,
    tmp_path: Path,
):
    path = tmp_path / "small.csv"
    sha = write_csv(path, 1)
    version = await stack.draft_version()
    upload_gid = await stack.put_file(version, "small.csv", path, sha)  # no worker running
    upload_id = pk(upload_gid)
    assert (await stack.complete(upload_gid))["upload"]["state"] == "QUEUED"

    redis = Redis.from_url(REDIS_URL)
    try:
        job_key = f"arq:job:satreps:process_upload:{upload_id}:0"  # the deployment's job id
        assert await redis.exists(job_key) and await redis.zcard(QUEUE) == 1
        await redis.flushdb()  # our database only
        assert not await redis.exists(job_key) and await redis.zcard(QUEUE) == 0
    finally:
        await redis.aclose()

    await stack.start_worker()
    await asyncio.sleep(1.0)  # its first reconcile (run at start-up) has found nothing
    waiting = await stack.upload(upload_id)
    # The job is gone and the upload is not yet stale: the worker has nothing to do.
    assert (waiting.state, waiting.attempts) == (UploadState.QUEUED, 0)
    assert waiting.queued_at is not None and utcnow() - waiting.queued_at < STALE_QUEUED

    # Let it have waited STALE_QUEUED (60 s) without spending a minute of test time: move
    # queued_at back. The reconciler's next round (cron, every 15 s) queues it again.
    async with stack.sessions() as session:
        await session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(queued_at=waiting.queued_at - STALE_QUEUED - dt.timedelta(seconds=1))
        )
        await session.commit()
    done = await stack.wait_for(upload_id, finished, 30, "finished", every=0.2)
    assert done.state == UploadState.READY, (done.error_code, done.error_message)
    assert done.attempts == 1 and done.sha256 == sha
    assert await stack.files_of(upload_id) == 1
    assert await stack.job_ran(f"process_upload:{upload_id}:0")  # queued by the reconciler


async def test_s3_unreachable_for_a_while_is_retried_to_ready(
    stack: Stack,
    tmp_path: Path,
):
    host, port = stack.seaweed.endpoint.rsplit(":", 1)
    proxy = SwitchableProxy(host, int(port))
    await proxy.up()
    try:
        # The worker reaches S3 only through the proxy; the API (and the client's presigned
        # PUTs) go straight to SeaweedFS.
        worker = await stack.start_worker(SATREPS_S3_ENDPOINT=proxy.endpoint)
        await proxy.down()
        path = tmp_path / "levels.csv"
        sha = write_csv(path, 2)
        version = await stack.draft_version()
        upload_gid = await stack.put_file(version, "levels.csv", path, sha)
        upload_id = pk(upload_gid)
        assert (await stack.complete(upload_gid))["upload"]["state"] == "QUEUED"
        await stack.wait_for(
            upload_id, lambda u: u.state == UploadState.PROCESSING, 20, "PROCESSING"
        )
        # Three failed attempts (1 + 2 s of back-off, plus the SDK's own retries) ...
        await stack.wait_for_log(worker, f"upload {upload_id}: transient fault", 30)
        await stack.wait_for_log(worker, "retry 3 in 4s", 30)
        assert (await stack.upload(upload_id)).state == UploadState.PROCESSING
        through = proxy.connections
        await proxy.up()  # ... then S3 is back, before the worker runs out of patience
        done = await stack.wait_for(upload_id, finished, 40, "finished", every=0.2)
        assert done.state == UploadState.READY, (done.error_code, done.error_message)
        assert done.attempts == 1  # retried inside one claim, not re-queued
        assert done.sha256 == sha and await stack.files_of(upload_id) == 1
        assert "unavailable" in worker.output()  # StoreUnavailable: the transient kind
        assert proxy.connections > through  # the worker's reads went through the proxy
    finally:
        await proxy.down()
