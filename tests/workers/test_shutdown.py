"""A worker stopped with SIGTERM (a rolling update, a scale-down): it lets a running job
finish within SATREPS_WORKER_SHUTDOWN_GRACE_SECONDS, else it hands the upload back at once so
another worker takes it without waiting for the lease to expire."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from strawberry.relay import from_base64

from server.models import Upload
from server.models.enums import UploadState
from tests.fixtures.stack import Stack, Worker, write_csv


def pk(global_id: str) -> int:
    return int(from_base64(global_id)[1])


def finished(upload: Upload) -> bool:
    return upload.state in (UploadState.READY, UploadState.FAILED, UploadState.REJECTED)


async def stop(worker: Worker, within: float = 60) -> int:
    os.kill(worker.pid, signal.SIGTERM)
    return await asyncio.wait_for(asyncio.to_thread(worker.process.wait), within)


async def running_on(on: Stack, upload_id: int, worker: Worker) -> Upload:
    running = await on.wait_for(
        upload_id, lambda u: u.state == UploadState.PROCESSING, 30, "PROCESSING", every=0.02
    )
    assert running.lease_owner is not None
    assert running.lease_owner.split(":")[1] == str(worker.pid)
    return running


async def test_sigterm_hands_a_long_job_back_at_once(stack: Stack, tmp_path: Path):
    path = tmp_path / "levels.csv"
    sha = write_csv(path, 120)
    version = await stack.draft_version()
    first = await stack.start_worker(
        SATREPS_WORKER_SHUTDOWN_GRACE_SECONDS="0", SATREPS_UPLOAD_LEASE_SECONDS="60"
    )
    upload_gid = await stack.put_file(version, "levels.csv", path, sha)
    upload_id = pk(upload_gid)
    await stack.complete(upload_gid)
    running = await running_on(stack, upload_id, first)
    await asyncio.sleep(0.3)  # inside the job
    lease_owner = running.lease_owner

    assert await stop(first) == 0
    handed = await stack.upload(upload_id)
    assert handed.state == UploadState.QUEUED, (
        f"not handed back (or finished before the signal):\n{first.output()[-4000:]}"
    )
    assert handed.lease_owner is None and handed.attempts == 1
    assert "handed back" in first.output()
    assert lease_owner is not None  # without the hand-back it would stay theirs for 60 s

    await stack.start_worker()  # takes the job arq kept in its queue, not the reconciler's
    done = await stack.wait_for(upload_id, finished, 90, "finished", every=0.2)
    assert done.state == UploadState.READY, (done.error_code, done.error_message)
    assert done.attempts == 2 and done.sha256 == sha
    assert await stack.files_of(upload_id) == 1


async def test_sigterm_lets_a_running_job_finish(stack: Stack, tmp_path: Path):
    path = tmp_path / "levels.csv"
    sha = write_csv(path, 40)
    version = await stack.draft_version()
    worker = await stack.start_worker(SATREPS_WORKER_SHUTDOWN_GRACE_SECONDS="120")
    upload_gid = await stack.put_file(version, "levels.csv", path, sha)
    upload_id = pk(upload_gid)
    await stack.complete(upload_gid)
    await running_on(stack, upload_id, worker)

    assert await stop(worker, within=150) == 0
    done = await stack.upload(upload_id)
    assert done.state == UploadState.READY, (done.state, worker.output()[-3000:])
    assert done.attempts == 1 and done.sha256 == sha
    assert await stack.files_of(upload_id) == 1
