"""The stats cron: the materialised programme figures rebuilt from the live rows."""

from __future__ import annotations

from typing import Any

from server.analytics import refresh_stats


async def refresh_stats_job(ctx: dict[str, Any]) -> None:
    async with ctx["sessions"]() as session:
        await refresh_stats(session)
        await session.commit()
