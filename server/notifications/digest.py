"""The daily digest: one e-mail per account with every digest item waiting for it, the
items claimed like deliveries (two runs never send the same items) and their outcome
recorded on each of them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import begin_write, utcnow
from server.models import Delivery, DeliveryAttempt, OutboxEvent
from server.notifications import mail as mailer
from server.notifications.delivery import (
    DELIVERED,
    DIGEST,
    FAILED,
    Claimed,
    Result,
    bounced,
    describe,
)
from server.notifications.delivery_codes import DeliveryCode
from server.notifications.messages import render_digest


async def send_digests(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, owner: str
) -> int:
    """One e-mail per account with every digest item waiting (claimed like deliveries, so
    two runs never send the same items); returns the e-mails sent."""
    if not settings.smtp_host:
        return 0
    now = utcnow()
    async with sessions() as session:
        await begin_write(session)
        rows = list(
            await session.scalars(
                select(Delivery)
                .where(
                    Delivery.state == DIGEST,
                    or_(Delivery.claim_expires_at.is_(None), Delivery.claim_expires_at < now),
                )
                .order_by(Delivery.account_id, Delivery.id)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return 0
        expires = now + dt.timedelta(seconds=settings.notify_claim_seconds)
        for row in rows:
            row.claimed_by, row.claim_expires_at = owner, expires
            row.attempts += 1
        claimed = await describe(session, settings, rows)
        events = {
            e.id: e
            for e in await session.scalars(
                select(OutboxEvent).where(OutboxEvent.id.in_({r.event_id for r in rows}))
            )
        }
        by_account: dict[int, list[tuple[Delivery, Claimed]]] = defaultdict(list)
        for row, item in zip(rows, claimed, strict=True):
            by_account[row.account_id or 0].append((row, item))
        await session.commit()
    sent = 0
    for _account, items in by_account.items():
        first = items[0][1]
        assert first.mail is not None
        tag = first.mail.language
        language, subject, text = render_digest([events[row.event_id] for row, _ in items], tag)
        digest = mailer.Mail(
            first.mail.to, subject, text, language, f"digest-{first.delivery_id}", "digest"
        )
        started, clock = utcnow(), time.perf_counter()
        outcome = await mailer.send(settings, digest)
        ms = int((time.perf_counter() - clock) * 1000)
        await _record_digest(sessions, settings, owner, items, outcome, started, ms)
        sent += outcome.ok
    return sent


async def _record_digest(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    owner: str,
    items: list[tuple[Delivery, Claimed]],
    outcome: mailer.MailOutcome,
    started: dt.datetime,
    ms: int,
) -> None:
    now = utcnow()
    async with sessions() as session:
        await begin_write(session)
        ids = [row.id for row, _ in items]
        for row, item in items:
            session.add(
                DeliveryAttempt(
                    delivery_id=row.id,
                    attempt=item.attempt,
                    started_at=started,
                    duration_ms=ms,
                    ok=outcome.ok,
                    code=outcome.code,
                    status=outcome.status,
                    response=outcome.response,
                    worker=owner[:64],
                )
            )
        held = (Delivery.id.in_(ids), Delivery.claimed_by == owner, Delivery.state == DIGEST)
        values: dict[str, Any] = {"claimed_by": None, "claim_expires_at": None}
        values |= {"last_code": outcome.code, "last_status": outcome.status}
        if outcome.ok:
            values |= {"state": DELIVERED, "delivered_at": now}
        elif outcome.final:
            values |= {"state": FAILED}
        await session.execute(update(Delivery).where(*held).values(**values))
        if outcome.code == DeliveryCode.EMAIL_BOUNCED and items[0][1].account_id is not None:
            first = items[0][1]
            result = Result(
                first, False, outcome.code, outcome.status, outcome.response, started, ms
            )
            await bounced(session, settings, first.account_id or 0, result)
        await session.commit()
