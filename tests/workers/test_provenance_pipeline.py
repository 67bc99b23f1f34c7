"""Every pipeline path leaves a complete, consistent W3C PROV record, written in the
transaction that commits the outcome: READY, FAILED, retried after a transient fault, taken
over after a lost lease, and run again after it finished. No activity is ever recorded twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from prov.model import ProvDocument
from sqlalchemy import select, update

from server.core.db import utcnow
from server.core.events import MemoryBus
from server.models import Artifact, DatasetFile, Upload
from server.provenance.records import software_version
from server.storage import ObjectStore, StoreUnavailable, store_from_settings
from tests.fixtures.provenance import (
    CSV,
    dataset_draft,
    process,
    prov_records,
    send,
    team,
    worker_ctx,
)
from workers import pipeline

ORCID = "0000-0002-1825-0097"
ROR = "02kpeqv85"


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def uploaded(sessions, factory, store, **kwargs: Any) -> tuple[Any, int, int, int]:
    who = await team(sessions, factory, ror=ROR, orcid=ORCID)
    dataset_id, version_id = await dataset_draft(sessions, who)
    upload_id = await send(sessions, store, who, version_id, **kwargs)
    return who, dataset_id, version_id, upload_id


def activities(nodes: dict) -> set[str]:
    return {key for key, n in nodes.items() if n.kind.value == "activity"}


async def test_ready_leaves_the_whole_story(sessions, factory, settings, store):
    sha = hashlib.sha256(CSV).hexdigest()
    who, dataset_id, version_id, upload_id = await uploaded(sessions, factory, store, sha256=sha)
    assert await process(worker_ctx(sessions, store, settings), upload_id) == "ready"

    nodes, edges = await prov_records(sessions)
    async with sessions() as session:
        upload = await session.get(Upload, upload_id)
        file = await session.scalar(select(DatasetFile).where(DatasetFile.upload_id == upload_id))
        artifacts = (
            await session.scalars(select(Artifact).where(Artifact.file_id == file.id))
        ).all()
    raw, ingest, act = (
        nodes[f"upload-{upload_id}"],
        nodes[f"ingest-{upload_id}"],
        nodes[f"upload-activity-{upload_id}"],
    )
    assert raw.attributes == {"key": upload.object_key, "size": len(CSV), "sha256": sha}
    assert act.attributes["client"] == "satreps-tests/1.0"
    assert act.started_at == upload.created_at and act.ended_at == upload.uploaded_at
    assert ingest.attributes["outcome"] == "ready" and ingest.attributes["attempts"] == 1
    assert ingest.attributes["softwareVersion"] == software_version()
    assert ingest.attributes["steps"][:2] == ["hash", "detect-format"]
    assert "write-artifacts" in ingest.attributes["steps"]
    assert ingest.started_at == upload.started_at and ingest.ended_at >= ingest.started_at
    researcher, institution = f"researcher-{who.researcher_id}", f"institution-{who.institution_id}"
    assert nodes[researcher].attributes == {"orcid": ORCID}
    assert nodes[institution].attributes["ror"] == ROR
    software = f"software-satreps-worker-{software_version()}"
    version, dataset = f"version-{version_id}", f"dataset-{dataset_id}"
    expected = {
        (f"upload-{upload_id}", "wasGeneratedBy", f"upload-activity-{upload_id}"),
        (f"upload-activity-{upload_id}", "wasAssociatedWith", researcher),
        (f"upload-{upload_id}", "wasAttributedTo", researcher),
        (researcher, "actedOnBehalfOf", institution),
        (f"ingest-{upload_id}", "used", f"upload-{upload_id}"),
        (f"ingest-{upload_id}", "wasAssociatedWith", software),
        (f"ingest-{upload_id}", "wasInformedBy", f"upload-activity-{upload_id}"),
        (version, "wasDerivedFrom", f"upload-{upload_id}"),
        (version, "specializationOf", dataset),
    }
    for artifact in artifacts:
        node = nodes[f"artifact-{artifact.id}"]
        assert (node.attributes["sha256"], node.attributes["size"]) == (
            artifact.sha256,
            artifact.size,
        )
        assert node.attributes["key"] == artifact.key
        expected |= {
            (f"artifact-{artifact.id}", "wasGeneratedBy", f"ingest-{upload_id}"),
            (f"artifact-{artifact.id}", "wasDerivedFrom", f"upload-{upload_id}"),
        }
    assert {a.kind for a in artifacts} == {"parquet", "preview", "profile"}
    assert edges == expected
    assert activities(nodes) == {f"upload-activity-{upload_id}", f"ingest-{upload_id}"}

    # the copies beside the data, in the provenance bucket
    prefix = f"datasets/{dataset_id}/v1"
    text = await store.get_bytes(store.buckets.provenance, f"{prefix}/prov.json")
    document = ProvDocument.deserialize(content=text, format="json")
    names = {str(r.identifier) for r in document.get_records()}
    assert f"satreps:ingest-{upload_id}" in names and f"orcid:{ORCID}" in names
    crate = json.loads(
        await store.get_bytes(store.buckets.provenance, f"{prefix}/ro-crate-metadata.json")
    )
    files = [e for e in crate["@graph"] if e.get("@id") == "levels.csv"]
    assert files and files[0]["sha256"] == sha


async def test_failed_records_the_failure_and_nothing_derived(sessions, factory, settings, store):
    _, _, version_id, upload_id = await uploaded(sessions, factory, store, sha256="0" * 64)
    assert await process(worker_ctx(sessions, store, settings), upload_id) == "failed"
    nodes, edges = await prov_records(sessions)
    ingest = nodes[f"ingest-{upload_id}"]
    assert ingest.attributes["outcome"] == "failed"
    assert ingest.attributes["errorCode"] == "CHECKSUM_MISMATCH"
    assert "steps" not in ingest.attributes
    assert not [k for k in nodes if k.startswith("artifact-")]
    assert (f"version-{version_id}", "wasDerivedFrom", f"upload-{upload_id}") not in edges
    assert (f"ingest-{upload_id}", "used", f"upload-{upload_id}") in edges
    assert activities(nodes) == {f"upload-activity-{upload_id}", f"ingest-{upload_id}"}
    assert "sha256" not in nodes[f"upload-{upload_id}"].attributes  # the bytes were not verified


class FlakyStore:
    """Fault injection: the first `failures` reads of the raw object fail as a network would."""

    def __init__(self, store: ObjectStore, failures: int) -> None:
        self._store, self.failures = store, failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def open_read(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("connection reset (injected)")
        return await self._store.open_read(*args, **kwargs)


async def test_a_transient_fault_retried_records_one_ingest(
    sessions, factory, settings, store, monkeypatch
):
    monkeypatch.setattr(pipeline, "RETRY_DELAYS", (0.01, 0.01))
    _, _, _, upload_id = await uploaded(sessions, factory, store)
    flaky = FlakyStore(store, failures=2)
    assert await process(worker_ctx(sessions, flaky, settings), upload_id) == "ready"
    assert flaky.failures == 0
    nodes, _ = await prov_records(sessions)
    assert activities(nodes) == {f"upload-activity-{upload_id}", f"ingest-{upload_id}"}
    assert nodes[f"ingest-{upload_id}"].attributes["attempts"] == 1


async def test_a_lost_lease_taken_over_and_a_rerun_record_one_ingest(
    sessions, factory, settings, store
):
    _, _, _, upload_id = await uploaded(sessions, factory, store)
    # a first worker claimed it and died without a word
    assert await pipeline.claim(sessions, upload_id, "dead-worker")
    async with sessions() as session:
        await session.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        await session.commit()
    ctx = worker_ctx(sessions, store, settings)
    assert await process(ctx, upload_id) == "ready"
    first_nodes, first_edges = await prov_records(sessions)
    ingest = first_nodes[f"ingest-{upload_id}"]
    assert ingest.attributes["attempts"] == 2
    # the dead worker's outcome can no longer be committed, and a re-run does nothing
    assert (
        await pipeline._finish_ready(sessions, upload_id, "dead-worker", None, []) == "lost-lease"
    )  # type: ignore[arg-type]
    assert await process(ctx, upload_id) == "skipped"
    nodes, edges = await prov_records(sessions)
    assert set(nodes) == set(first_nodes) and edges == first_edges
    assert activities(nodes) == {f"upload-activity-{upload_id}", f"ingest-{upload_id}"}


class TakenOverStore(FlakyStore):
    """Every read fails, and while this worker backs off another takes its upload over."""

    def __init__(self, store: ObjectStore, sessions: Any, upload_id: int) -> None:
        super().__init__(store, failures=10**6)
        self.sessions, self.upload_id = sessions, upload_id

    async def open_read(self, *args: Any, **kwargs: Any) -> Any:
        async with self.sessions() as session:
            await session.execute(
                update(Upload).where(Upload.id == self.upload_id).values(lease_owner="other")
            )
            await session.commit()
        return await super().open_read(*args, **kwargs)


async def test_a_worker_that_lost_its_upload_says_nothing_of_it(
    sessions, factory, settings, store, monkeypatch
):
    """Out of patience with a failing store, a worker hands its upload back QUEUED, and
    announces that; when another worker has taken the upload over meanwhile, nothing was
    handed back, and announcing QUEUED would tell subscribers a state the upload never took
    (seen in the cluster test as QUEUED, PROCESSING after READY)."""
    told: list[str] = []

    class Recorder(MemoryBus):
        async def publish(self, channel: str, message: dict[str, Any]) -> None:
            told.append(message["state"])

    monkeypatch.setattr(pipeline, "RETRY_DELAYS", (0.01, 0.01))
    _, _, _, upload_id = await uploaded(sessions, factory, store)
    ctx = worker_ctx(sessions, TakenOverStore(store, sessions, upload_id), settings)
    ctx["events"] = Recorder()  # type: ignore[typeddict-item]
    assert await pipeline.process_upload(ctx, upload_id) == "lost-lease"
    assert told == ["processing"]  # its claim, and nothing after
    async with sessions() as session:
        upload = await session.get(Upload, upload_id)
    assert upload is not None and (upload.state.value, upload.lease_owner) == (
        "processing",
        "other",
    )


async def test_bucket_copies_of_a_busy_version_are_rewritten_once_per_window(
    sessions, factory, settings, store
):
    """Five uploads READY within one window: one rewrite of the copies (deferred, then
    postponed until the version is quiet), and it
    holds all five ingests (not one rewrite per upload, which is quadratic in files)."""
    from server.core.jobs import PROCESS_UPLOAD, WRITE_PROVENANCE, InProcessJobs
    from workers.provenance import process_upload_with_provenance, write_provenance

    who, dataset_id, version_id, first = await uploaded(sessions, factory, store)
    ids = [first] + [
        await send(sessions, store, who, version_id, name=f"levels-{i}.csv") for i in range(4)
    ]
    runs: list[tuple[int, str]] = []

    async def counted(ctx: dict[str, Any], vid: int, *rest: Any) -> str:
        outcome = await write_provenance(ctx, vid, *rest)
        runs.append((vid, outcome))
        return outcome

    slow = settings.model_copy(update={"prov_copy_window_seconds": 2.0})
    jobs = InProcessJobs(
        {PROCESS_UPLOAD: process_upload_with_provenance, WRITE_PROVENANCE: counted},
        ctx=worker_ctx(sessions, store, slow),
        autostart=False,
        concurrency=1,
    )
    for upload_id in ids:
        assert await jobs.enqueue(PROCESS_UPLOAD, upload_id, job_id=f"u{upload_id}")
    # a 2 s window: the five READYs share a slot unless a boundary falls in between
    await jobs.drain()
    # one write; before it, a job of each window the READYs fell in, deferred or postponed
    assert [outcome for _, outcome in runs].count("written") == 1
    assert len(runs) <= 4 and {vid for vid, _ in runs} == {version_id}

    text = await store.get_bytes(store.buckets.provenance, f"datasets/{dataset_id}/v1/prov.json")
    names = {
        str(r.identifier)
        for r in ProvDocument.deserialize(content=text, format="json").get_records()
    }
    assert {f"satreps:ingest-{u}" for u in ids} <= names
