"""Issue 22 fault 2: the API process killed between `completeUpload`'s commit and the
enqueue of the processing job. The API is a real `satreps serve` process that ends itself
with `os._exit` at that point (tests/fixtures/crashing_api.py: the fault point is in the
tests, not in the server); the upload is QUEUED in the database and no job exists in Redis.
A worker's reconciler finds it once it has waited STALE_QUEUED and brings it to READY,
exactly once. The behaviour was right before this test: it documents and keeps it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from server.core.db import utcnow
from server.models import ProvNode, Upload
from server.models.enums import UploadState
from tests.fixtures.crashing_api import CRASH_CODE
from tests.fixtures.pgbouncer import listening
from tests.fixtures.seaweed import free_ports
from tests.fixtures.stack import REDIS_URL, Stack, write_csv
from tests.schema.test_uploads import COMPLETE
from tests.workers.test_faults import finished, pk
from workers.main import QUEUE
from workers.pipeline import STALE_QUEUED

ROOT = Path(__file__).parents[2]


def crashing_api(stack: Stack, port: int) -> subprocess.Popen[bytes]:
    env = stack.worker_env(
        SATREPS_AUTO_MIGRATE="false",
        SATREPS_TEST_CRASH_BEFORE_ENQUEUE="process_upload",
        PYTHONPATH=str(ROOT),
    )
    log = (stack.workdir / "api.log").open("wb")
    with log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.fixtures.crashing_api", "serve", "--port", str(port)],
            env=env,
            cwd=stack.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def serving(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    while not listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            output = await asyncio.to_thread(log.read_text, errors="replace")
            pytest.fail(f"the API did not start:\n{output}")
        await asyncio.sleep(0.1)


async def test_the_api_killed_after_the_commit_before_the_enqueue_loses_nothing(
    stack: Stack, tmp_path: Path
):
    path = tmp_path / "levels.csv"
    sha = write_csv(path, 1)
    version = await stack.draft_version()
    upload_gid = await stack.put_file(version, "levels.csv", path, sha)
    upload_id = pk(upload_gid)
    (port,) = free_ports(1)
    api = crashing_api(stack, port)
    try:
        await serving(api, port, stack.workdir / "api.log")
        headers = {"Authorization": f"Bearer {stack.admin.token}"}
        body = {"query": COMPLETE, "variables": {"u": upload_gid}}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            with pytest.raises(httpx.TransportError):  # the process is gone mid-request
                await http.post("/graphql", json=body, headers=headers)
        assert await asyncio.to_thread(api.wait, 30) == CRASH_CODE
    finally:
        if api.poll() is None:
            os.kill(api.pid, 9)
            api.wait(30)
    assert "exit before enqueueing" in (stack.workdir / "api.log").read_text()

    committed = await stack.upload(upload_id)  # the commit happened; the enqueue did not
    assert (committed.state, committed.attempts) == (UploadState.QUEUED, 0)
    redis = Redis.from_url(REDIS_URL)
    try:
        assert await redis.zcard(QUEUE) == 0
        assert not await redis.exists(f"arq:job:satreps:process_upload:{upload_id}:0")
    finally:
        await redis.aclose()

    await stack.start_worker()
    # Waited STALE_QUEUED without spending a minute of test time: move queued_at back; the
    # reconciler's next round queues it.
    assert committed.queued_at is not None and utcnow() - committed.queued_at < STALE_QUEUED
    async with stack.sessions() as session:
        await session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(queued_at=committed.queued_at - STALE_QUEUED - dt.timedelta(seconds=1))
        )
        await session.commit()
    done = await stack.wait_for(upload_id, finished, 30, "finished", every=0.2)
    assert done.state == UploadState.READY, (done.error_code, done.error_message)
    assert done.attempts == 1 and done.sha256 == sha
    assert await stack.files_of(upload_id) == 1
    assert await stack.job_ran(f"process_upload:{upload_id}:0")  # queued by the reconciler
    async with stack.sessions() as session:
        ingests = await session.scalar(
            select(func.count())
            .select_from(ProvNode)
            .where(ProvNode.type == "ingest", ProvNode.object_id == upload_id)
        )
    assert ingests == 1
