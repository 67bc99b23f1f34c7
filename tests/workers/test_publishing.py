"""The registration job as the workers run it (workers/publishing.py): a round gives
identifiers to public records that have none (published before migration 0023) and pushes
the due ones to DataCite; with local identifiers it needs no network (SQLite and
PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, select

from server.core.config import get_settings
from server.models import PersistentId
from server.storage import store_from_settings
from tests.fixtures.datacite import PREFIX
from tests.fixtures.provenance import dataset_draft, process, publish, send, team, worker_ctx
from workers.publishing import push_pids_job


@pytest.fixture
async def store(settings) -> Any:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    yield store
    store.close()


async def published_without_pids(sessions, store, settings, who) -> tuple[int, int]:
    dataset_id, version_id = await dataset_draft(sessions, who)
    upload = await send(sessions, store, who, version_id, "levels.csv")
    assert await process(worker_ctx(sessions, store, settings), upload)
    await publish(sessions, who, version_id)
    async with sessions() as session:  # as a record published before migration 0023
        await session.execute(delete(PersistentId).where(PersistentId.dataset_id == dataset_id))
        await session.commit()
    return dataset_id, version_id


async def states(sessions, dataset_id) -> dict[int | None, tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(PersistentId).where(PersistentId.dataset_id == dataset_id)
        )
        return {r.version_id: (r.value, r.state) for r in rows}


async def test_a_round_backfills_and_registers(sessions, factory, store, doi_settings, datacite):
    who = await team(sessions, factory)
    dataset_id, version_id = await published_without_pids(sessions, store, doi_settings, who)
    ctx = worker_ctx(sessions, store, doi_settings)
    assert await push_pids_job(ctx) == 2
    assert await states(sessions, dataset_id) == {
        version_id: (f"{PREFIX}/satreps.{dataset_id}.v1", "findable"),
        None: (f"{PREFIX}/satreps.{dataset_id}", "findable"),
    }
    assert datacite.state(f"{PREFIX}/satreps.{dataset_id}.v1") == "findable"
    assert datacite.invalid == []
    assert await push_pids_job(ctx) == 0


async def test_a_round_without_datacite_writes_local_identifiers(
    sessions, factory, store, settings
):
    get_settings.cache_clear()
    who = await team(sessions, factory)
    dataset_id, version_id = await published_without_pids(sessions, store, settings, who)
    assert await push_pids_job(worker_ctx(sessions, store, settings)) == 0
    assert await states(sessions, dataset_id) == {
        version_id: (f"satreps:{dataset_id}.v1", "findable"),
        None: (f"satreps:{dataset_id}", "findable"),
    }
