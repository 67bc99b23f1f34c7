"""Scheduled fixity: every raw object re-hashed at least every `every`, the oldest-checked
(never checked first) first, at most `rate` bytes per second. Ingest hashed a file's bytes
against the declared sha256 when it was written (or the store checked them against it, signed
into the PUT: workers/raw_reads.py), so a file never checked is due once it is
older than `every` (every file, after the upgrade that brought the schedule): what a
folder's ingest has just written is not read again while it is still arriving.

The database is the truth of the schedule (`dataset_files.fixity_checked_at`): a run picks
what is due, checks a batch, records it, and picks again until its time is up. The rate is
a token bucket shared by everything one process checks, so a run never reads faster than
the operator allowed, whatever the files' sizes: ingest keeps the disk and the CPU.
Two runs at once (the CLI and the cron, say) only check some objects twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.db import utcnow
from server.models import DatasetFile
from server.provenance.fixity import FixityFailure, Throttle, check_file, record_checks
from server.storage import ObjectStore

BATCH = 20  # objects checked between two records


class TokenBucket:
    """At most `rate` tokens (bytes) a second on average, `burst` at once. `take(n)` waits
    as long as the bucket needs to pay for n; a take larger than the burst goes into debt
    that later takes wait off, so large chunks keep the average rate too."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()
        self._lock = asyncio.Lock()

    async def take(self, n: int) -> None:
        async with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            self._tokens -= n
            if self._tokens < 0:
                await self._sleep(-self._tokens / self.rate)


@dataclass
class ScheduledRun:
    run_id: str
    checked: int = 0  # raw objects
    bytes_read: int = 0
    failures: list[FixityFailure] = field(default_factory=list)


async def due_files(
    session: AsyncSession, checked_before: dt.datetime, limit: int
) -> list[DatasetFile]:
    """Files whose raw object is due: never checked (and ingested before `checked_before`)
    first, then the oldest check first."""
    never = await session.scalars(
        select(DatasetFile)
        .where(DatasetFile.fixity_checked_at.is_(None), DatasetFile.created_at < checked_before)
        .limit(limit)  # any of them: no sort of every unchecked file (all, after an upgrade)
    )
    found = list(never.all())
    if len(found) < limit:
        older = await session.scalars(
            select(DatasetFile)
            .where(DatasetFile.fixity_checked_at < checked_before)
            .order_by(DatasetFile.fixity_checked_at, DatasetFile.id)
            .limit(limit - len(found))
        )
        found += older.all()
    return found


async def run_due(
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    *,
    checked_before: dt.datetime,
    throttle: Throttle | None = None,
    seconds: float | None = None,
    run_id: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ScheduledRun:
    """Check what was last checked before `checked_before` (or never), oldest first, until
    nothing is due or `seconds` have passed (the object being read is finished and what was
    read is recorded)."""
    run = ScheduledRun(run_id or uuid.uuid4().hex[:12])
    deadline = None if seconds is None else clock() + seconds
    # what this run records is stamped later than its start: it is not picked again
    checked_before = min(checked_before, utcnow())
    batch_number = 0
    while deadline is None or clock() < deadline:
        async with sessions() as session:
            files = await due_files(session, checked_before, BATCH)
        if not files:
            break
        started = utcnow()
        results: dict[str, str] = {}
        for file in files:
            if file.raw_key in results:
                continue
            results[file.raw_key] = await check_file(store, file, _counting(run, throttle))
            if deadline is not None and clock() >= deadline:
                break
        batch_number += 1
        async with sessions() as session:
            run.failures += await record_checks(
                session,
                f"{run.run_id}-{batch_number}",
                results,
                started_at=started,
                ended_at=utcnow(),
            )
            await session.commit()
        run.checked += len(results)
    return run


def _counting(run: ScheduledRun, throttle: Throttle | None) -> Throttle:
    async def take(n: int) -> None:
        run.bytes_read += n
        if throttle is not None:
            await throttle(n)

    return take
