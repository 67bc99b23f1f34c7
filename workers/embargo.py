"""The embargo cron: datasets whose embargo date has come become public, on record."""

from __future__ import annotations

import logging

from server.datasets.embargo import lift_embargoes
from workers.context import WorkerContext

log = logging.getLogger(__name__)


async def lift_embargoes_job(ctx: WorkerContext) -> int:
    lifted = await lift_embargoes(ctx["sessions"])
    if lifted:
        log.info("embargo lifted on datasets %s", lifted)
    return len(lifted)
