"""The demo's datasets through the workers' own jobs, run inline: `satreps seed --demo`
and the tests that opt into datasets call `seed_demo_datasets`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.demo.datasets import seed_datasets
from server.storage import ObjectStore
from workers.context import worker_context
from workers.jobs import JOBS


async def seed_demo_datasets(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], store: ObjectStore
) -> dict[str, int]:
    """Load the missing demo datasets, each processed by the `process_upload` job as a
    worker runs it (no queue: the job runs here and now, then the next file goes)."""
    ctx = worker_context(settings, sessions, store)

    async def run_job(name: str, *args: Any) -> Any:
        return await JOBS[name](ctx, *args)

    await store.ensure_buckets()
    return await seed_datasets(sessions, store, run_job)
