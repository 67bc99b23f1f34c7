"""Issue 23: small uploads processed in batches (workers/batch.py). One transaction and one
PROV ingest activity per batch, each file its own entities, state and error; a bad file
fails alone; a batch run again (after a crash, or twice) skips what is READY and records
nothing twice; a large upload keeps its own job."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from typing import Any

import pytest
from sqlalchemy import func, select, update

from server.core.db import utcnow
from server.core.jobs import PROCESS_BATCH, PROCESS_UPLOAD
from server.datasets.upload_jobs import Waiting, plan_jobs
from server.models import Artifact, DatasetFile, Upload
from server.models.enums import UploadState
from server.storage import ObjectStore, StoreUnavailable, store_from_settings
from tests.fixtures.provenance import CSV, dataset_draft, prov_records, send, team, worker_ctx
from workers import batch
from workers.batch import process_batch

GOOD = [CSV, CSV.replace(b"1.52", b"2.75"), CSV.replace(b"BKK", b"AYU")]


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def draft_with(sessions, factory, store, bodies: list[bytes], **sha: str) -> tuple:
    """A draft with one QUEUED upload per body (named f0.csv, f1.csv, ...); `sha` declares a
    sha256 by name."""
    who = await team(sessions, factory)
    dataset_id, version_id = await dataset_draft(sessions, who)
    ids = []
    for i, body in enumerate(bodies):
        name = f"f{i}.csv"
        declared = sha.get(name.replace(".", "_"), hashlib.sha256(body).hexdigest())
        ids.append(await send(sessions, store, who, version_id, name, body, sha256=declared))
    return who, dataset_id, version_id, ids


async def uploads_by_id(sessions, ids: list[int]) -> dict[int, Upload]:
    async with sessions() as session:
        return {u.id: u for u in await session.scalars(select(Upload).where(Upload.id.in_(ids)))}


async def count(sessions, model: Any, **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


def batch_activities(nodes: dict) -> list[str]:
    return sorted(k for k in nodes if k.startswith("ingest-batch-"))


class FlakyFor:
    """Fault injection: reads of the keys given fail as a network would."""

    def __init__(self, store: ObjectStore, keys: set[str]) -> None:
        self._store, self.keys = store, keys

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def open_read(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        if key in self.keys:
            raise StoreUnavailable("connection reset (injected)")
        return await self._store.open_read(bucket, key, *args, **kwargs)


class Queue:
    """Records what a job queues (the in-process runner's seat in ctx)."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, tuple[Any, ...], str]] = []

    async def enqueue(self, name: str, *args: Any, job_id: str, defer_seconds: float = 0) -> bool:
        self.queued.append((name, args, job_id))
        return True


async def test_a_batch_of_good_and_bad_files(sessions, factory, settings, store):
    bodies = [GOOD[0], GOOD[1], GOOD[2], CSV + b"X,2023-01-09,0.1\n"]
    who, dataset_id, version_id, ids = await draft_with(
        sessions, factory, store, bodies, f1_csv="0" * 64
    )
    ready, bad, flaky, late = ids
    uploads = await uploads_by_id(sessions, ids)
    ctx = worker_ctx(sessions, FlakyFor(store, {uploads[flaky].object_key}), settings)
    queue = Queue()
    ctx["jobs"] = queue  # type: ignore[typeddict-item]

    assert await process_batch(ctx, ids) == "done"

    uploads = await uploads_by_id(sessions, ids)
    assert {i: uploads[i].state for i in ids} == {
        ready: UploadState.READY,
        bad: UploadState.FAILED,
        flaky: UploadState.QUEUED,  # handed back, queued alone
        late: UploadState.READY,
    }
    assert uploads[bad].error_code == "CHECKSUM_MISMATCH"
    assert uploads[bad].error_message.startswith("sha256 i")
    assert all(uploads[i].lease_owner is None for i in ids)
    assert (PROCESS_UPLOAD, (flaky,), f"process_upload:{flaky}:1") in queue.queued
    assert [q[:2] for q in queue.queued if q[0] != PROCESS_UPLOAD] == [
        ("write_provenance", (version_id,))  # the bucket copies, once for the batch
    ]
    assert await count(sessions, DatasetFile, version_id=version_id) == 2
    for i, body in ((ready, GOOD[0]), (late, bodies[3])):
        assert uploads[i].sha256 == hashlib.sha256(body).hexdigest()

    nodes, edges = await prov_records(sessions)
    [activity] = batch_activities(nodes)
    assert not [k for k in nodes if k.startswith("ingest-") and k != activity]
    node = nodes[activity]
    assert (node.kind.value, node.type, node.dataset_id) == ("activity", "ingest", dataset_id)
    assert node.attributes["outcome"] == "partial"
    assert (node.attributes["ready"], node.attributes["failed"]) == (2, 1)
    assert sorted(node.attributes["uploads"]) == sorted([ready, bad, late])
    for i in (ready, bad, late):  # each file its own entity, used by the one activity
        assert (activity, "used", f"upload-{i}") in edges
        assert (activity, "wasInformedBy", f"upload-activity-{i}") in edges
    assert (activity, "used", f"upload-{flaky}") not in edges
    for i in (ready, late):
        assert (f"version-{version_id}", "wasDerivedFrom", f"upload-{i}") in edges
        assert nodes[f"upload-{i}"].attributes["sha256"] == uploads[i].sha256
    assert (f"version-{version_id}", "wasDerivedFrom", f"upload-{bad}") not in edges
    async with sessions() as session:
        artifacts = (await session.scalars(select(Artifact))).all()
    assert len(artifacts) == 6  # parquet, preview and profile of each READY file
    for artifact in artifacts:
        assert (f"artifact-{artifact.id}", "wasGeneratedBy", activity) in edges
    facts = await used_facts(sessions, activity)
    assert facts[bad]["outcome"] == "failed" and facts[bad]["errorCode"] == "CHECKSUM_MISMATCH"
    assert facts[ready]["outcome"] == "ready" and facts[ready]["format"] == "csv"
    assert "write-artifacts" in facts[ready]["steps"]

    # the one handed back goes on alone, its own ingest
    ctx = worker_ctx(sessions, store, settings)
    assert await batch.process_batch(ctx, [flaky]) == "done"
    assert (await uploads_by_id(sessions, [flaky]))[flaky].state == UploadState.READY
    nodes, _ = await prov_records(sessions)
    assert len(batch_activities(nodes)) == 2


async def used_facts(sessions, activity: str) -> dict[int, dict[str, Any]]:
    from server.models.provenance import ProvEdge, ProvNode

    async with sessions() as session:
        node_id = await session.scalar(select(ProvNode.id).where(ProvNode.key == activity))
        rows = await session.scalars(
            select(ProvEdge).where(ProvEdge.subject_id == node_id, ProvEdge.relation == "used")
        )
        return {e.attributes["upload"]: e.attributes for e in rows}


async def test_a_file_the_database_refuses_fails_alone(sessions, factory, settings, store):
    _, _, version_id, ids = await draft_with(sessions, factory, store, GOOD)
    uploads = await uploads_by_id(sessions, ids)
    taken = uploads[ids[1]]
    async with sessions() as session:  # a file already holds the second one's path
        session.add(
            DatasetFile(
                version_id=version_id,
                name=taken.filename,
                path=taken.path,
                path_key=taken.path_key,
                size=1,
                sha256="0" * 64,
                raw_key="elsewhere",
            )
        )
        await session.commit()
    assert await process_batch(worker_ctx(sessions, store, settings), ids) == "done"
    uploads = await uploads_by_id(sessions, ids)
    assert [uploads[i].state for i in ids] == [
        UploadState.READY,
        UploadState.FAILED,
        UploadState.READY,
    ]
    assert uploads[ids[1]].error_code == "CONFLICT"
    assert await count(sessions, DatasetFile, upload_id=ids[1]) == 0
    nodes, edges = await prov_records(sessions)
    [activity] = batch_activities(nodes)
    assert (f"version-{version_id}", "wasDerivedFrom", f"upload-{ids[1]}") not in edges
    assert (await used_facts(sessions, activity))[ids[1]]["outcome"] == "failed"
    # the refused file's artifacts are named by no row: they are gone from the bucket
    keys = [o.key async for o in store.list(store.buckets.artifacts, "datasets/")]
    assert keys and not [k for k in keys if f"/uploads/{ids[1]}/" in k]


async def test_a_batch_run_again_after_a_crash_records_nothing_twice(
    sessions, factory, settings, store, monkeypatch
):
    _, _, version_id, ids = await draft_with(sessions, factory, store, GOOD)
    done_first, crashed, held = ids
    ctx = worker_ctx(sessions, store, settings)
    assert await process_batch(ctx, [done_first]) == "done"  # READY before the batch

    # a worker takes the other two and dies in its commit: nothing of it is written
    real = batch.record_batch_ingest

    async def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("killed (injected)")

    monkeypatch.setattr(batch, "record_batch_ingest", crash)
    with pytest.raises(RuntimeError):
        await process_batch(ctx, ids)
    monkeypatch.setattr(batch, "record_batch_ingest", real)
    uploads = await uploads_by_id(sessions, ids)
    assert [uploads[i].state for i in (crashed, held)] == [UploadState.PROCESSING] * 2
    assert await count(sessions, DatasetFile, version_id=version_id) == 1
    nodes, _ = await prov_records(sessions)
    assert len(batch_activities(nodes)) == 1  # the first file's alone

    # its lease on `crashed` runs out; another worker holds `held` with a live lease
    async with sessions() as session:
        await session.execute(
            update(Upload)
            .where(Upload.id == crashed)
            .values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        await session.execute(
            update(Upload)
            .where(Upload.id == held)
            .values(lease_owner="alive", lease_expires_at=utcnow() + dt.timedelta(minutes=1))
        )
        await session.commit()
    assert await process_batch(ctx, ids) == "done"  # arq ran the job again
    uploads = await uploads_by_id(sessions, ids)
    assert [uploads[i].state for i in ids] == [
        UploadState.READY,
        UploadState.READY,
        UploadState.PROCESSING,
    ]
    assert (uploads[done_first].attempts, uploads[crashed].attempts) == (1, 2)
    assert uploads[held].lease_owner == "alive"
    assert await count(sessions, DatasetFile, upload_id=done_first) == 1
    nodes, edges = await prov_records(sessions)  # (asserts each key once)
    assert len(batch_activities(nodes)) == 2
    second = next(a for a in batch_activities(nodes) if crashed in nodes[a].attributes["uploads"])
    assert nodes[second].attributes["uploads"] == [crashed]
    # once more: everything is READY or held, nothing is claimed or recorded
    assert await process_batch(ctx, ids) == "skipped"
    again, again_edges = await prov_records(sessions)
    assert set(again) == set(nodes) and again_edges == edges


def test_small_uploads_of_a_version_go_in_batches_and_a_large_one_alone():
    uploads = [Waiting(i, 1, 100, 0) for i in range(1, 6)]
    uploads += [Waiting(6, 1, 9 << 20, 0), Waiting(7, 2, 100, 0), Waiting(8, 2, 100, 1)]
    jobs = plan_jobs(uploads, max_bytes=8 << 20, per_batch=2)
    named = sorted((j.name, j.args) for j in jobs)
    assert named == sorted(
        [
            (PROCESS_BATCH, ([1, 2],)),
            (PROCESS_BATCH, ([3, 4],)),
            (PROCESS_UPLOAD, (5,)),  # alone in its batch: its own job
            (PROCESS_UPLOAD, (6,)),  # large
            (PROCESS_BATCH, ([7, 8],)),  # another version's
        ]
    )
    assert len({j.job_id for j in jobs}) == len(jobs)
    again = plan_jobs(reversed(uploads), max_bytes=8 << 20, per_batch=2)
    assert sorted(j.job_id for j in again) == sorted(j.job_id for j in jobs)
    assert all(j.name == PROCESS_UPLOAD for j in plan_jobs(uploads, max_bytes=0, per_batch=9))
    # a batch holds at most max_bytes: bigger small files spread over more jobs
    mib = [Waiting(i, 1, 3 << 20, 0) for i in range(1, 8)]
    sized = [(j.name, j.args) for j in plan_jobs(mib, max_bytes=8 << 20, per_batch=50)]
    assert sized == [
        (PROCESS_BATCH, ([1, 2],)),
        (PROCESS_BATCH, ([3, 4],)),
        (PROCESS_BATCH, ([5, 6],)),
        (PROCESS_UPLOAD, (7,)),
    ]


async def test_the_reconciler_queues_waiting_small_uploads_in_batches(
    sessions, factory, settings, store
):
    """The reconciler plans as completeUploads does: a batch that waited too long is queued
    again under the id it had (arq runs it once), not as one job per file."""
    from workers.pipeline import waiting_jobs

    _, _, version_id, ids = await draft_with(sessions, factory, store, GOOD)
    async with sessions() as session:
        await session.execute(
            update(Upload)
            .where(Upload.id.in_(ids))
            .values(queued_at=utcnow() - dt.timedelta(minutes=5))
        )
        await session.commit()
    uploads = await uploads_by_id(sessions, ids)
    waiting = [Waiting(i, version_id, uploads[i].size, uploads[i].attempts) for i in ids]
    [queued] = plan_jobs(waiting, max_bytes=1 << 20, per_batch=50)  # completeUploads's plan
    planned = await waiting_jobs(sessions, max_bytes=1 << 20, per_batch=50)
    assert [(j.name, j.args, j.job_id) for j in planned if j.args[0] == ids] == [
        (PROCESS_BATCH, (ids,), queued.job_id)
    ]
    alone = await waiting_jobs(sessions)  # no batching asked: one job per upload, as before
    assert {j.job_id for j in alone} >= {f"process_upload:{i}:0" for i in ids}


async def test_the_bucket_copies_wait_until_the_version_is_quiet(
    sessions, factory, settings, store
):
    """A rewrite of a version's copies reads the whole version: not while its uploads are
    still on their way; the last one to end writes them, holding every file."""
    from workers.provenance import write_provenance

    _, dataset_id, _, ids = await draft_with(sessions, factory, store, GOOD[:2])
    ctx = worker_ctx(sessions, store, settings)
    ctx["jobs"] = Queue()  # type: ignore[typeddict-item]
    assert await process_batch(ctx, ids[:1]) == "done"
    version_id = (await uploads_by_id(sessions, ids))[ids[0]].version_id
    assert await write_provenance(ctx, version_id) == "deferred"  # ids[1] is QUEUED
    key = f"datasets/{dataset_id}/v1/prov.json"
    assert not await store.exists(store.buckets.provenance, key)
    assert await process_batch(ctx, ids[1:]) == "done"
    # the last READY is younger than the window: a client may still be sending the folder
    queue: Queue = ctx["jobs"]  # type: ignore[assignment]
    queue.queued.clear()
    assert await write_provenance(ctx, version_id) == "postponed"
    assert await write_provenance(ctx, version_id) == "postponed"  # asked twice: one job
    assert not await store.exists(store.buckets.provenance, key)
    [(name, args, job_id)] = {q[2]: q for q in queue.queued}.values()
    assert (name, args[0]) == ("write_provenance", version_id)
    # the postponed job writes when nothing changed since, even if the clock disagrees
    assert await write_provenance(ctx, version_id, *args[1:]) == "written"
    text = (await store.get_bytes(store.buckets.provenance, key)).decode()
    assert all(f"upload-{i}" in text for i in ids)


async def test_a_change_after_the_postponement_postpones_again(sessions, factory, settings, store):
    """A change after a rewrite was postponed (the next file of the folder completed)
    postpones it again, under the new change's id; once quiet for a window, it is written."""
    from workers.provenance import write_provenance

    _, dataset_id, _, ids = await draft_with(sessions, factory, store, GOOD[:2])
    queue = Queue()
    ctx = worker_ctx(sessions, store, settings)
    ctx["jobs"] = queue  # type: ignore[typeddict-item]
    assert await process_batch(ctx, ids[:1]) == "done"
    version_id = (await uploads_by_id(sessions, ids))[ids[0]].version_id
    async with sessions() as session:  # ids[1] waits for its turn, not QUEUED
        await session.execute(
            update(Upload).where(Upload.id == ids[1]).values(state=UploadState.UPLOADED)
        )
        await session.commit()
    queue.queued.clear()
    assert await write_provenance(ctx, version_id) == "postponed"
    [(_, first, first_id)] = queue.queued
    async with sessions() as session:  # ids[1] queued again: a change of the version
        await session.execute(
            update(Upload)
            .where(Upload.id == ids[1])
            .values(state=UploadState.QUEUED, updated_at=utcnow())
        )
        await session.commit()
    assert await process_batch(ctx, ids[1:]) == "done"
    queue.queued.clear()
    assert await write_provenance(ctx, *first) == "postponed"
    [(_, again, again_id)] = {q[2]: q for q in queue.queued}.values()
    assert again_id != first_id and again[1] > first[1]
    await asyncio.sleep(settings.prov_copy_window_seconds)  # quiet for a whole window
    assert await write_provenance(ctx, version_id) == "written"
    key = f"datasets/{dataset_id}/v1/prov.json"
    text = (await store.get_bytes(store.buckets.provenance, key)).decode()
    assert all(f"upload-{i}" in text for i in ids)


async def test_a_version_quiet_for_a_window_is_written_without_a_queue_too(
    sessions, factory, settings, store
):
    """No queue to postpone into (a job run by hand): the copies are written at once."""
    from workers.provenance import write_provenance

    _, dataset_id, _, ids = await draft_with(sessions, factory, store, GOOD[:1])
    ctx = worker_ctx(sessions, store, settings)
    ctx["jobs"] = Queue()  # type: ignore[typeddict-item]
    assert await process_batch(ctx, ids) == "done"
    version_id = (await uploads_by_id(sessions, ids))[ids[0]].version_id
    del ctx["jobs"]  # type: ignore[misc]
    assert await write_provenance(ctx, version_id) == "written"


async def test_a_batch_ingested_version_exports_a_valid_ro_crate(
    sessions, factory, settings, store, tmp_path
):
    """Every file of a batch in the published version's RO-Crate with its checksum and size,
    made by the batch's one ingest action, and the crate valid by the RO-Crate validator."""
    import asyncio
    import json

    from server.provenance import ExportFormat
    from server.provenance.export import export_version
    from server.provenance.lineage import SYSTEM
    from tests.fixtures.provenance import publish, validate_crate

    who, _, version_id, ids = await draft_with(sessions, factory, store, GOOD)
    assert await process_batch(worker_ctx(sessions, store, settings), ids) == "done"
    await publish(sessions, who, version_id)
    async with sessions() as session:
        found = await export_version(
            session,
            SYSTEM,
            version_id,
            ExportFormat.RO_CRATE,
            namespace="https://t/",
            raw_bucket="satreps-raw",
        )
        files = (
            await session.scalars(select(DatasetFile).where(DatasetFile.version_id == version_id))
        ).all()
    crate = json.loads(found.text)
    graph = {e["@id"]: e for e in crate["@graph"]}
    parts = {p["@id"] for p in graph["./"]["hasPart"]}
    assert len(files) == len(GOOD)
    for file in files:
        entity = next(e for e in crate["@graph"] if e.get("name") == file.name)
        assert entity["@id"] in parts and entity["sha256"] == file.sha256
        assert entity["contentSize"] == str(file.size)
    [action] = [e for e in crate["@graph"] if e.get("@type") == "CreateAction"]
    made = {r["@id"] for r in action["result"]}
    assert {
        next(e["@id"] for e in crate["@graph"] if e.get("name") == f.name) for f in files
    } <= made
    (tmp_path / "crate").mkdir()
    (tmp_path / "crate" / "ro-crate-metadata.json").write_text(json.dumps(crate))
    result = await asyncio.to_thread(validate_crate, tmp_path / "crate")
    assert result.passed(), [i.message for i in result.get_issues()]


async def test_a_file_gets_a_scratch_directory_only_if_its_reader_spools_and_none_is_left(
    sessions, factory, settings, store, monkeypatch
):
    import os

    from server.core.config import work_root

    root = work_root(settings)
    who = await team(sessions, factory)
    _, version_id = await dataset_draft(sessions, who)
    ids = [
        await send(sessions, store, who, version_id, f"raw{i}.bin", bytes([i]) * 2048 + b"\x00")
        for i in range(3)
    ]
    ids.append(await send(sessions, store, who, version_id, "table.csv", CSV))
    made: list[str] = []
    real_mkdir = os.mkdir

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).startswith(f"{root}{os.sep}"):  # inside the work root, not it
            made.append(str(path))
        real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    assert await process_batch(worker_ctx(sessions, store, settings), ids) == "done"
    monkeypatch.undo()

    uploads = await uploads_by_id(sessions, ids)
    assert all(u.state == UploadState.READY for u in uploads.values())
    [batch_dir, *per_file] = made  # the batch's own directory, then what readers made
    assert per_file == [os.path.join(batch_dir, str(ids[-1]))]  # the CSV's table, only
    assert not any(root.iterdir())  # nothing left behind
