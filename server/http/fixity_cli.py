"""`satreps fixity`: one version, or every raw object not checked since a date."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import engine_from_settings, session_factory, utcnow
from server.core.events import bus_from_url
from server.provenance.export import write_copies
from server.provenance.fixity import FixityFailure, fixity_events, run_fixity_check
from server.provenance.fixity_schedule import TokenBucket, run_due
from server.storage import ObjectStore, store_from_settings

T = TypeVar("T")


def _with_services(
    settings: Settings,
    work: Callable[[async_sessionmaker[AsyncSession], ObjectStore], Awaitable[T]],
) -> T:
    async def main() -> T:
        engine = engine_from_settings(settings)
        store = store_from_settings(settings)
        try:
            return await work(session_factory(engine), store)
        finally:
            store.close()
            await engine.dispose()

    return asyncio.run(main())


async def _announce(settings: Settings, failures: list[FixityFailure]) -> None:
    if not failures or not settings.redis_url:  # embedded: no one else would hear it
        return
    bus = bus_from_url(settings.redis_url, settings.redis_prefix)
    try:
        for channel, message in fixity_events(failures):
            await bus.publish(channel, message)
    finally:
        await bus.close()


def check_version(settings: Settings, version_id: int) -> bool:
    async def work(sessions: async_sessionmaker[AsyncSession], store: ObjectStore) -> bool:
        report, failures = await run_fixity_check(
            sessions, store, version_id, uuid.uuid4().hex[:12]
        )
        if report.outcome == "gone":
            typer.echo(f"error: dataset version {version_id} not found", err=True)
            return False
        async with sessions() as session:
            await write_copies(session, store, version_id, namespace=settings.prov_namespace)
        await _announce(settings, failures)
        for name, result in sorted(report.results.items()):
            typer.echo(f"{result:>8}  {name}" if result == "ok" else f"  FAILED  {name}: {result}")
        count = len(report.results)
        typer.echo(f"fixity {report.outcome}: {count} file(s), run {report.run_id}")
        return report.ok

    return _with_services(settings, work)


def check_all(settings: Settings, since: dt.datetime | None, rate: int) -> bool:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)

    async def work(sessions: async_sessionmaker[AsyncSession], store: ObjectStore) -> bool:
        throttle = TokenBucket(rate).take if rate > 0 else None
        run = await run_due(sessions, store, checked_before=since or utcnow(), throttle=throttle)
        for version_id in sorted({f.version_id for f in run.failures}):
            async with sessions() as session:
                await write_copies(session, store, version_id, namespace=settings.prov_namespace)
        await _announce(settings, run.failures)
        for f in run.failures:
            typer.echo(f"  FAILED  version {f.version_id} {f.name}: {f.detail}")
        typer.echo(
            f"fixity: {run.checked} object(s), {run.bytes_read} bytes,"
            f" {len(run.failures)} failed file(s), run {run.run_id}"
        )
        return not run.failures

    return _with_services(settings, work)
