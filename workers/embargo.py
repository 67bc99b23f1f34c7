"""The embargo cron: datasets whose embargo date has come become public, on record."""

from __future__ import annotations

import logging
from typing import Any

from server.datasets.embargo import lift_embargoes

log = logging.getLogger(__name__)


async def lift_embargoes_job(ctx: dict[str, Any]) -> int:
    lifted = await lift_embargoes(ctx["sessions"])
    if lifted:
        log.info("embargo lifted on datasets %s", lifted)
    return len(lifted)
