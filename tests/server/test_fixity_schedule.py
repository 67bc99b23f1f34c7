"""Scheduled fixity on real services: the local store and SQLite/PostgreSQL (the `dialect`
fixture), SeaweedFS in test_fixity_s3.py. Objects altered or deleted behind the server's
back are found, recorded (file state, history, PROV, audit) and announced."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import utcnow
from server.core.events import MemoryBus
from server.models import AuditEvent, DatasetFile, FixityCheck
from server.models.provenance import ProvNode
from server.provenance.fixity import dataset_channel
from server.provenance.fixity_schedule import TokenBucket, due_files, run_due
from server.storage import ObjectStore, store_from_settings
from tests.factories import Factory
from tests.fixtures.provenance import CSV, dataset_draft, process, send, team, worker_ctx
from workers.fixity import scheduled_fixity_job


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_token_bucket_keeps_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1000, burst=1000, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        await bucket.take(1000)  # 10 000 bytes at 1000/s: the burst, then 9 s of waiting
    assert sum(clock.slept) == pytest.approx(9.0)
    clock.now += 100  # idle: the bucket refills to its burst, no more
    await bucket.take(500)
    await bucket.take(500)
    assert sum(clock.slept) == pytest.approx(9.0)
    await bucket.take(3000)  # larger than the burst: a debt, paid by waiting
    assert sum(clock.slept) == pytest.approx(12.0)
    with pytest.raises(ValueError):
        TokenBucket(0)


async def test_a_run_reads_no_faster_than_its_rate(
    sessions: async_sessionmaker[AsyncSession], factory: Factory, store: ObjectStore, ctx: Any
) -> None:
    files = await ready_files(sessions, factory, store, ctx, 3)
    clock = FakeClock()
    bucket = TokenBucket(len(CSV), clock=clock, sleep=clock.sleep)
    run = await run_due(sessions, store, checked_before=utcnow(), throttle=bucket.take)
    assert run.checked >= 3 and run.bytes_read >= 3 * len(CSV)
    # one file's worth of burst, then a second per file's worth of bytes
    assert sum(clock.slept) == pytest.approx(run.bytes_read / len(CSV) - 1)
    assert {f.id for f in await checked(sessions, files)} == set(files)


async def test_oldest_checked_first_never_checked_before_all(
    sessions: async_sessionmaker[AsyncSession], factory: Factory, store: ObjectStore, ctx: Any
) -> None:
    a, b, c = await ready_files(sessions, factory, store, ctx, 3)
    await ingested_ago(sessions, [a, b, c], days=31)
    now = utcnow()
    async with sessions() as session:
        for file_id, age in ((a, 3), (b, 10)):
            row = await session.get(DatasetFile, file_id)
            assert row is not None
            row.fixity_checked_at, row.fixity_outcome = now - dt.timedelta(days=age), "ok"
        await session.commit()
        due = [f.id for f in await due_files(session, now - dt.timedelta(days=1), 1000)]
        assert [i for i in due if i in (a, b, c)] == [c, b, a]
        due = [f.id for f in await due_files(session, now - dt.timedelta(days=5), 1000)]
        assert [i for i in due if i in (a, b, c)] == [c, b]


async def test_altered_and_deleted_objects_are_found_recorded_and_announced(
    sessions: async_sessionmaker[AsyncSession],
    factory: Factory,
    store: ObjectStore,
    ctx: Any,
    settings: Settings,
) -> None:
    intact, altered, deleted = await ready_files(sessions, factory, store, ctx, 3)
    keys = await raw_keys(sessions, [intact, altered, deleted])
    root = Path(settings.object_dir) / settings.bucket_raw
    # behind the server's back: the file system allows what the store's API refuses
    target = root / keys[altered]
    target.chmod(0o644)
    target.write_bytes(target.read_bytes().replace(b"1.52", b"9.99"))  # same size
    os.unlink(root / keys[deleted])

    await ingested_ago(sessions, [intact, altered, deleted], days=31)  # due: never checked
    events: MemoryBus = ctx["events"]
    dataset_ids = await datasets_of(sessions, [altered, deleted])
    async with events.subscribe(dataset_channel(dataset_ids[altered])) as heard:
        assert await scheduled_fixity_job(ctx) >= 3
        message = await asyncio.wait_for(anext(heard), 5)
    assert message["event"] == "fixityFailed"
    assert (message["fileId"], message["outcome"]) == (altered, "mismatch")
    assert message["detail"].startswith("sha256 ")

    rows = {f.id: f for f in await checked(sessions, [intact, altered, deleted])}
    assert [rows[i].fixity_outcome for i in (intact, altered, deleted)] == [
        "ok",
        "mismatch",
        "missing",
    ]
    async with sessions() as session:
        history = (
            await session.scalars(
                select(FixityCheck).where(FixityCheck.file_id.in_([intact, altered, deleted]))
            )
        ).all()
        assert sorted((h.file_id, h.outcome.value) for h in history) == sorted(
            [(intact, "ok"), (altered, "mismatch"), (deleted, "missing")]
        )
        audited = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "fixityCheck",
                    AuditEvent.target_id.in_([altered, deleted]),
                )
            )
        ).all()
        assert sorted((a.target_id, a.code) for a in audited) == sorted(
            [(altered, "FIXITY_FAILED"), (deleted, "FIXITY_FAILED")]
        )
        activities = (
            await session.scalars(
                select(ProvNode).where(
                    ProvNode.type == "fixity_check",
                    ProvNode.dataset_id.in_(list(dataset_ids.values())),
                )
            )
        ).all()
    assert {a.attributes["outcome"] for a in activities} == {"mismatch", "missing"}

    # nothing is due again until its time comes: the next run reads none of them
    before = len(history)
    await scheduled_fixity_job(ctx)
    async with sessions() as session:
        again = (
            await session.scalars(
                select(FixityCheck).where(FixityCheck.file_id.in_([intact, altered, deleted]))
            )
        ).all()
    assert len(again) == before


async def test_a_file_is_first_due_a_period_after_its_ingest(
    sessions: async_sessionmaker[AsyncSession], factory: Factory, store: ObjectStore, ctx: Any
) -> None:
    """Ingest hashed the bytes it wrote: the cron does not read a file again the minute it
    is READY, only once it is older than `fixity_every_days` (30 here)."""
    fresh, older = await ready_files(sessions, factory, store, ctx, 2)
    await ingested_ago(sessions, [older], days=31)
    now = utcnow()
    async with sessions() as session:
        due = {f.id for f in await due_files(session, now - dt.timedelta(days=30), 1000)}
    assert older in due and fresh not in due
    await scheduled_fixity_job(ctx)
    assert [f.id for f in await checked(sessions, [fresh, older])] == [older]
    await ingested_ago(sessions, [fresh], days=31)
    await scheduled_fixity_job(ctx)
    assert {f.id for f in await checked(sessions, [fresh, older])} == {fresh, older}


async def test_no_scheduled_checks_when_turned_off(
    sessions: async_sessionmaker[AsyncSession], factory: Factory, store: ObjectStore, ctx: Any
) -> None:
    (file_id,) = await ready_files(sessions, factory, store, ctx, 1)
    await ingested_ago(sessions, [file_id], days=31)
    ctx["settings"] = ctx["settings"].model_copy(update={"fixity_every_days": 0})
    assert await scheduled_fixity_job(ctx) == 0
    assert (await checked(sessions, [file_id])) == []


# --- helpers ------------------------------------------------------------------------------


@pytest.fixture
async def store(settings: Settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


@pytest.fixture
def ctx(sessions: async_sessionmaker[AsyncSession], store: ObjectStore, settings: Settings) -> Any:
    context = worker_ctx(sessions, store, settings)
    context["events"] = MemoryBus()
    return context


async def ready_files(
    sessions: async_sessionmaker[AsyncSession],
    factory: Factory,
    store: ObjectStore,
    ctx: Any,
    count: int,
) -> list[int]:
    """`count` READY files, each in a dataset of its own; their ids."""
    ids = []
    for n in range(count):
        who = await team(sessions, factory)
        _, version = await dataset_draft(sessions, who, title=f"Levels {n}")
        body = CSV + f"N-{n},2023-01-03,1.0\n".encode()
        upload = await send(sessions, store, who, version, body=body)
        assert await process(ctx, upload) == "ready"
        async with sessions() as session:
            file_id = await session.scalar(
                select(DatasetFile.id).where(DatasetFile.upload_id == upload)
            )
            row = await session.get(DatasetFile, file_id)
            assert row is not None and row.sha256 == hashlib.sha256(body).hexdigest()
        ids.append(row.id)
    return ids


async def ingested_ago(
    sessions: async_sessionmaker[AsyncSession], ids: list[int], *, days: float
) -> None:
    """The files' ingest moved `days` into the past."""
    async with sessions() as session:
        for file_id in ids:
            row = await session.get(DatasetFile, file_id)
            assert row is not None
            row.created_at = utcnow() - dt.timedelta(days=days)
        await session.commit()


async def checked(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[DatasetFile]:
    async with sessions() as session:
        rows = await session.scalars(
            select(DatasetFile).where(
                DatasetFile.id.in_(ids), DatasetFile.fixity_checked_at.is_not(None)
            )
        )
        return list(rows.all())


async def raw_keys(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> dict[int, str]:
    async with sessions() as session:
        rows = await session.execute(
            select(DatasetFile.id, DatasetFile.raw_key).where(DatasetFile.id.in_(ids))
        )
        return {i: k for i, k in rows}


async def datasets_of(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> dict[int, int]:
    from server.models import DatasetVersion

    async with sessions() as session:
        rows = await session.execute(
            select(DatasetFile.id, DatasetVersion.dataset_id)
            .join(DatasetVersion, DatasetVersion.id == DatasetFile.version_id)
            .where(DatasetFile.id.in_(ids))
        )
        return {i: d for i, d in rows}


async def test_the_embedded_loop_runs_the_same_job(
    sessions: async_sessionmaker[AsyncSession],
    factory: Factory,
    store: ObjectStore,
    ctx: Any,
    settings: Settings,
) -> None:
    """`satreps serve` without Redis runs the cron as a loop (workers.fixity.fixity_forever);
    here with a short period, on a file deleted behind the server's back."""
    from workers.fixity import fixity_forever

    (file_id,) = await ready_files(sessions, factory, store, ctx, 1)
    await ingested_ago(sessions, [file_id], days=31)
    keys = await raw_keys(sessions, [file_id])
    os.unlink(Path(settings.object_dir) / settings.bucket_raw / keys[file_id])
    (dataset_id,) = (await datasets_of(sessions, [file_id])).values()
    events: MemoryBus = ctx["events"]
    async with events.subscribe(dataset_channel(dataset_id)) as heard:
        await fixity_forever(ctx, period=0.01, runs=2)
        message = await asyncio.wait_for(anext(heard), 5)
    assert (message["fileId"], message["outcome"]) == (file_id, "missing")
    (row,) = await checked(sessions, [file_id])
    assert row.fixity_outcome == "missing"
