"""Issue 23: completeUploads queues one batch job for the small uploads it completes, and a
large one (over SATREPS_UPLOAD_BATCH_MAX_BYTES) its own job; through the API, the files end
READY with one PROV ingest activity for the batch and the large file's own."""

from __future__ import annotations

import hashlib

import pytest

from server.core.config import Settings
from server.core.jobs import PROCESS_BATCH, PROCESS_UPLOAD
from tests.fixtures.provenance import prov_records
from tests.schema.test_upload_batches import COMPLETE, FILES, START, body, entry
from tests.schema.test_uploads import draft_version, send

LARGE = b"station,level\n" + b"".join(b"BKK-%02d,1.%d\n" % (i, i) for i in range(20))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=tmp_path / "objects",
        prov_copy_window_seconds=0.05,
        upload_batch_max_bytes=100,  # the small files below are ~30 bytes, LARGE ~240
        upload_batch_files=3,
    )


async def test_small_uploads_go_in_batches_and_a_large_one_alone(
    admin, factory, client, jobs, sessions
):
    version = await draft_version(admin, factory)
    bodies = [body(i) for i in range(4)] + [LARGE]
    files = [entry(f"raw/{i}.csv", b) for i, b in enumerate(bodies)]
    started = (await admin(START, {"v": version, "files": files}))["startUploads"]
    for e, b in zip(started["entries"], bodies, strict=True):
        assert (await send(client, e["instructions"]["putUrl"], b)).status_code == 200
    ids = [e["upload"]["id"] for e in started["entries"]]
    completed = (await admin(COMPLETE, {"ids": ids}))["completeUploads"]
    assert [e["upload"]["state"] for e in completed["entries"]] == ["QUEUED"] * 5

    held = sorted(
        (name, len(args[0]) if name == PROCESS_BATCH else 1)
        for name, args, _ in jobs._held.values()
    )
    # four small ones: a batch of three and one left alone; the large one alone
    assert held == [(PROCESS_BATCH, 3), (PROCESS_UPLOAD, 1), (PROCESS_UPLOAD, 1)]

    await jobs.drain()
    listed = (await admin(FILES, {"v": version}))["node"]["files"]
    assert sorted((n["path"], n["sha256"]) for n in listed["nodes"]) == sorted(
        (f"raw/{i}.csv", hashlib.sha256(b).hexdigest()) for i, b in enumerate(bodies)
    )
    nodes, edges = await prov_records(sessions)
    [batch] = [k for k in nodes if k.startswith("ingest-batch-")]
    alone = sorted(k for k in nodes if k.startswith("ingest-") and k != batch)
    assert len(nodes[batch].attributes["uploads"]) == 3 and len(alone) == 2
    used = {o for s, r, o in edges if s == batch and r == "used"}
    assert len(used) == 3
