"""The access sweep cron: requests whose time ran out are marked EXPIRED, grants about to end
are announced (once). Reads never wait for it: expiry is also worked out when read."""

from __future__ import annotations

import logging

from server.access_requests.service import sweep
from workers.context import WorkerContext

log = logging.getLogger(__name__)


async def sweep_access_job(ctx: WorkerContext) -> int:
    swept = await sweep(ctx["sessions"])
    if swept.expired or swept.expiring:
        log.info("access requests expired %s, grants ending soon %s", swept.expired, swept.expiring)
    return len(swept.expired) + len(swept.expiring)
