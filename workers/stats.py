"""The stats cron: the materialised programme figures rebuilt from the live rows."""

from __future__ import annotations

from server.analytics import refresh_stats
from workers.context import WorkerContext


async def refresh_stats_job(ctx: WorkerContext) -> None:
    async with ctx["sessions"]() as session:
        await refresh_stats(session)
        await session.commit()
