"""The fixity cron: raw objects re-hashed on schedule (server/provenance/fixity_schedule.py),
each failure announced on its dataset's channel once recorded."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from server.core.db import utcnow
from server.core.events import EventBus
from server.provenance.fixity import FixityFailure, fixity_events, run_fixity_check
from server.provenance.fixity_schedule import TokenBucket, run_due
from workers.context import WorkerContext
from workers.provenance import write_provenance

log = logging.getLogger(__name__)
PERIOD_SECONDS = 60.0  # the cron's period (workers/main.py) and the embedded loop's


async def scheduled_fixity_job(ctx: WorkerContext) -> int:
    """One run: what is due, for at most `fixity_run_seconds`; returns objects checked."""
    settings = ctx["settings"]
    if settings.fixity_every_days <= 0:
        return 0
    if "fixity_bucket" not in ctx:  # one bucket per process: the rate holds across runs
        ctx["fixity_bucket"] = TokenBucket(settings.fixity_bytes_per_second)
    due = utcnow() - dt.timedelta(days=settings.fixity_every_days)
    run = await run_due(
        ctx["sessions"],
        ctx["store"],
        checked_before=due,
        throttle=ctx["fixity_bucket"].take,
        seconds=settings.fixity_run_seconds,
    )
    if run.checked:
        log.info(
            "fixity run %s: %d object(s), %d bytes, %d failure(s)",
            run.run_id,
            run.checked,
            run.bytes_read,
            len(run.failures),
        )
    await announce(ctx.get("events"), run.failures)
    for version_id in sorted({f.version_id for f in run.failures}):
        await write_provenance(ctx, version_id, busy_too=True)  # the copies show the failure
    return run.checked


async def fixity_check(ctx: WorkerContext, version_id: int, run_id: str) -> str:
    """One version now (`checkFixity`)."""
    report, failures = await run_fixity_check(ctx["sessions"], ctx["store"], version_id, run_id)
    if report.outcome != "gone":
        log.info("fixity check %s of version %s: %s", run_id, version_id, report.outcome)
        await announce(ctx.get("events"), failures)
        await write_provenance(ctx, version_id, busy_too=True)
    return report.outcome


async def announce(events: EventBus | None, failures: list[FixityFailure]) -> None:
    for failure in failures:
        log.error(
            "fixity %s: version %s file %s (%s): %s",
            failure.outcome.value,
            failure.version_id,
            failure.file_id,
            failure.name,
            failure.detail,
        )
    if events is None:
        return
    for channel, message in fixity_events(failures):
        try:
            await events.publish(channel, message)
        except Exception:  # the database and the audit log keep the record
            log.warning("fixity event on %s not published", channel, exc_info=True)


async def fixity_forever(
    ctx: WorkerContext, period: float = PERIOD_SECONDS, runs: int | None = None
) -> None:
    """The embedded mode's cron (no arq): a run every `period` seconds, the first after one
    period (a server that starts reads nothing at once); `runs` of them, or for ever."""
    done = 0
    while runs is None or done < runs:
        await asyncio.sleep(period)
        try:
            await scheduled_fixity_job(ctx)
        except Exception:
            log.exception("scheduled fixity run failed")
        done += 1
