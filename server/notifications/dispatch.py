"""The dispatcher: the database is the queue of every notification.

1. Fan-out: each outbox row not yet fanned out becomes delivery rows, in one transaction
   with the row's `fanned_out_at`: one per matching enabled webhook subscription (the
   subject project's and institution's, filtered by their events) and one per account told
   by e-mail (when SMTP is set up), per the account's preference (each: due now; digest:
   waits for the daily e-mail; none: no row). An address that bounced gets a failed row
   (EMAIL_SUPPRESSED).
2. Claim: due deliveries are taken with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; on
   SQLite the write transaction begins IMMEDIATE: one claimer at a time) and marked claimed
   by this dispatcher until `notify_claim_seconds` from now; the attempt is counted.
3. Deliver, all at once (bounded by `notify_concurrency`), each within its timeout; each
   outcome is recorded as soon as the recorder is free, with its attempt in the log.

A dispatcher killed after its claim holds nothing once the claim expires: another claims
the delivery and sends it again, under the same delivery id. A lost Redis loses nothing:
the dispatchers poll the database (workers/notifications.py).

Here: the loop (`Dispatcher`), one process's rounds of the three steps. The steps live in
`fanout` (1), `delivery` (2 and 3: the claim, the attempt, the record of its outcome, the
delivery states) and `digest` (the daily e-mail of the waiting digest items).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid

import httpx
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.notifications.delivery import Claimed, Result, anything_due, attempt, claim, record
from server.notifications.digest import send_digests
from server.notifications.fanout import fan_out

log = logging.getLogger(__name__)


def dispatcher_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    """One process's dispatcher: fan out, claim, deliver concurrently, record as results
    come. `run_until_idle` returns when nothing is due (or after `max_seconds`)."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        owner: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.owner = owner or dispatcher_name()
        self._client = client
        self._own_client = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            limits = httpx.Limits(max_connections=self.settings.notify_concurrency * 2)
            self._client = httpx.AsyncClient(
                limits=limits, timeout=self.settings.webhook_timeout_seconds
            )
        return self._client

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_once(self) -> int:
        """One round: fan out, claim a batch, deliver it; how many attempts were made."""
        if not await anything_due(self.sessions):
            return 0  # a plain read: no write lock taken when idle (SQLite)
        while await fan_out(self.sessions, self.settings):
            pass
        batch = await claim(self.sessions, self.settings, self.owner)
        if batch:
            await self.deliver(batch)
        return len(batch)

    async def deliver(self, batch: list[Claimed]) -> None:
        slots = asyncio.Semaphore(self.settings.notify_concurrency)
        done: asyncio.Queue[Result] = asyncio.Queue()

        async def one(claimed: Claimed) -> None:
            async with slots:
                await done.put(await attempt(self.settings, self.client, claimed))

        tasks = [asyncio.create_task(one(c)) for c in batch]
        left = len(tasks)
        try:
            while left:
                results = [await done.get()]
                while not done.empty():
                    results.append(done.get_nowait())
                left -= len(results)
                await self._record(results)
        finally:
            for task in tasks:
                task.cancel()

    async def _record(self, results: list[Result]) -> None:
        """Record, trying again when the database refused (SQLite's lock waited out, a
        dropped connection): an outcome not recorded is sent again once the claim expires
        (the same delivery id, but a second POST)."""
        for wait in (0.1, 0.3, 1.0, 3.0):
            try:
                await record(self.sessions, self.settings, self.owner, results)
                return
            except OperationalError:
                log.warning("recording %s outcomes failed; again in %s s", len(results), wait)
                await asyncio.sleep(wait)
        await record(self.sessions, self.settings, self.owner, results)

    async def run_until_idle(self, max_seconds: float | None = None) -> int:
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        total = 0
        while deadline is None or time.monotonic() < deadline:
            made = await self.run_once()
            total += made
            if not made:
                break
        return total

    async def send_digests(self) -> int:
        return await send_digests(self.sessions, self.settings, self.owner)
