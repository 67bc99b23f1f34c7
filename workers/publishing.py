"""The registration job: persistent identifiers pushed to DataCite
(server.publishing.registration). On the arq workers a cron runs a round every ten seconds
(workers share the due rows through SKIP LOCKED claims); embedded, `pids_forever` runs the
rounds in the API's process. Each round first gives identifiers to the public records that
have none (server.publishing.pids.backfill); with local identifiers that is all there is."""

from __future__ import annotations

import asyncio
import logging

from server.core.db import begin_write
from server.publishing.pids import backfill
from server.publishing.registration import push_due
from workers.context import WorkerContext

log = logging.getLogger(__name__)


async def push_pids_job(ctx: WorkerContext) -> int:
    settings, sessions = ctx["settings"], ctx["sessions"]
    async with sessions() as session:
        await begin_write(session)
        if await backfill(session, settings):
            await session.commit()
    return await push_due(sessions, settings)


async def pids_forever(ctx: WorkerContext, every: float = 10.0) -> None:
    while True:
        try:
            await push_pids_job(ctx)
        except Exception:  # keep going; the next round retries
            log.exception("pushing persistent identifiers failed")
        await asyncio.sleep(every)
