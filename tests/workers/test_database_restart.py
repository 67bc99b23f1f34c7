"""Issue 22 fault 1: PostgreSQL restarted while an upload is processing and while the API
serves reads and writes. The database is a private PostgreSQL of the test
(tests/fixtures/private_postgres.py), stopped and started with pg_ctl; the API runs
in-process on its own engine, the worker is a real `satreps worker`.

While the database is down the API answers 503 DATABASE_UNAVAILABLE with Retry-After (before
this fault was tried: a 200 with a masked error, or a 500); once it is back the same API
process answers again (its pool replaces the dead connections), and the upload ends READY
exactly once, with one ingest activity.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from server.core.db import utcnow
from server.models import ProvNode
from server.models.enums import UploadState
from tests.fixtures.private_postgres import PrivatePostgres, private_postgres
from tests.fixtures.seaweed import SeaweedS3
from tests.fixtures.stack import Stack, _flush_redis, running_stack, write_csv
from tests.schema.test_uploads import START, UPLOAD
from tests.workers.test_faults import finished, pk

# the worker's lease in this test: the heartbeat beats every third of it. PostgreSQL is down
# for just over one beat (so a beat always meets it) plus what pg_ctl's stop and start take
# (about 1 s here, more on a loaded machine), and the last renewal may be up to a beat older
# than the stop. A lease of 1.5 s lapsed during the outage in every run looked at, and the
# job was taken over (attempt 2) whenever the reconciler ran before the next beat renewed it
LEASE_SECONDS = 9.0
BEAT_SECONDS = LEASE_SECONDS / 3


@pytest.fixture
async def pg_stack(
    tmp_path: Path, seaweed: SeaweedS3
) -> AsyncIterator[tuple[PrivatePostgres, Stack]]:
    try:
        await _flush_redis()
    except Exception as error:
        pytest.skip(f"Redis unavailable: {error}")
    with private_postgres() as pg:
        async with running_stack(tmp_path, seaweed, pg.url) as stack:
            yield pg, stack


def refused_for_the_database(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0


async def test_postgres_restarted_mid_processing_and_mid_requests(
    pg_stack: tuple[PrivatePostgres, Stack], tmp_path: Path
):
    pg, stack = pg_stack
    path = tmp_path / "levels.csv"
    sha = write_csv(path, 160)  # seconds of processing
    version = await stack.draft_version()
    upload_gid = await stack.put_file(version, "levels.csv", path, sha)
    upload_id = pk(upload_gid)
    # a short lease: a heartbeat the restart stopped would let it lapse within the job
    worker = await stack.start_worker(SATREPS_UPLOAD_LEASE_SECONDS=str(LEASE_SECONDS))
    assert (await stack.complete(upload_gid))["upload"]["state"] == "QUEUED"
    await stack.wait_for(
        upload_id, lambda u: u.state == UploadState.PROCESSING, 30, "PROCESSING", every=0.02
    )
    read = {"u": upload_gid}
    write = {"v": version, "name": "more.csv", "size": 10}
    assert (await stack.admin.post(UPLOAD, read)).status_code == 200

    await asyncio.to_thread(pg.stop)  # fast: every session is ended, new ones refused
    refused_for_the_database(await stack.admin.post(UPLOAD, read))
    refused_for_the_database(await stack.admin.post(START, write))
    # down for more than one of the heartbeat's beats, so a beat meets the stopped database
    # whatever the speed of the requests above (CI once saw the restart fall between two
    # beats), and for well under a lease less a beat, so the lease outlives the outage
    await asyncio.sleep(BEAT_SECONDS + 0.2)
    await asyncio.to_thread(pg.start)

    # the job goes on, its lease still renewed: a heartbeat that died at the stop would have
    # let the lease lapse by now (its last renewal was before the stop)
    await asyncio.sleep(LEASE_SECONDS)
    held = await stack.upload(upload_id)
    assert held.state == UploadState.READY or (
        held.state == UploadState.PROCESSING
        and held.lease_expires_at is not None
        and held.lease_expires_at > utcnow()
    ), (held.state, held.lease_expires_at)
    # the job was running through the outage (160 MiB take seconds), so its heartbeat met the
    # stopped database and went on, whether or not the job has ended since
    await stack.wait_for_log(worker, "heartbeat missed, database unavailable")

    # the same API process answers again: its pool replaced the dead connections
    answered = await stack.admin.post(UPLOAD, read)
    assert answered.status_code == 200, answered.text
    assert answered.json()["data"]["node"]["state"] in ("PROCESSING", "QUEUED", "READY")
    started = (await stack.admin.post(START, write)).json()["data"]["startUpload"]
    assert started["errors"] == [], started

    done = await stack.wait_for(upload_id, finished, 90, "finished", every=0.2)
    assert done.state == UploadState.READY, (done.error_code, done.error_message)
    assert done.sha256 == sha and done.attempts == 1
    assert await stack.files_of(upload_id) == 1
    async with stack.sessions() as session:
        ingests = await session.scalar(
            select(func.count())
            .select_from(ProvNode)
            .where(ProvNode.type == "ingest", ProvNode.object_id == upload_id)
        )
    assert ingests == 1
