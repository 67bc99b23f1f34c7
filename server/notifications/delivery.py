"""A delivery's life after fan-out: its states and channels, the claim (due deliveries
taken with SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL, one claimer at a time on
SQLite, held until `notify_claim_seconds` from now, the attempt counted), one attempt (a
webhook POST or an e-mail) and the record of its outcome (the attempt logged; delivered,
retried after a backoff, or failed; a subscription failing too often disabled; a bounced
address remembered). A claim that expires lets another dispatcher send it again, under the
same delivery id.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import begin_write, utcnow
from server.models import (
    Account,
    Delivery,
    DeliveryAttempt,
    NotificationPreference,
    OutboxEvent,
    Researcher,
    WebhookSubscription,
)
from server.notifications import mail as mailer
from server.notifications import webhooks
from server.notifications.delivery_codes import DeliveryCode
from server.notifications.events import emit
from server.notifications.messages import render

PENDING, DELIVERED, FAILED, DIGEST = "pending", "delivered", "failed", "digest"
WEBHOOK, EMAIL = "webhook", "email"


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next attempt: doubling from webhook_backoff_seconds, at most
    webhook_backoff_max_seconds, plus up to 50% jitter (receivers coming back are not hit
    by every retry at once)."""
    base = settings.webhook_backoff_seconds * 2 ** max(0, attempts - 1)
    delay = min(settings.webhook_backoff_max_seconds, base)
    return delay * (1 + random.uniform(0, 0.5))


@dataclass(frozen=True)
class Claimed:
    pk: int
    delivery_id: str
    attempt: int
    channel: str
    event: str
    subscription_id: int | None = None
    url: str = ""
    secret: str = ""
    body: bytes = b""
    account_id: int | None = None
    mail: mailer.Mail | None = None
    created_at: dt.datetime | None = None


@dataclass(frozen=True)
class Result:
    claimed: Claimed
    ok: bool
    code: str | None
    status: int | None
    response: str | None
    started_at: dt.datetime
    duration_ms: int
    final: bool = False


async def claim(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, owner: str
) -> list[Claimed]:
    now = utcnow()
    async with sessions() as session:
        await begin_write(session)
        rows = list(
            await session.scalars(
                select(Delivery)
                .outerjoin(WebhookSubscription, WebhookSubscription.id == Delivery.subscription_id)
                .where(
                    Delivery.state == PENDING,
                    Delivery.next_attempt_at <= now,
                    or_(Delivery.claim_expires_at.is_(None), Delivery.claim_expires_at < now),
                    or_(Delivery.subscription_id.is_(None), WebhookSubscription.enabled),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(settings.notify_batch)
                .with_for_update(skip_locked=True, of=Delivery)
            )
        )
        if not rows:
            return []
        expires = now + dt.timedelta(seconds=settings.notify_claim_seconds)
        for row in rows:
            row.claimed_by, row.claim_expires_at = owner, expires
            row.attempts += 1
        claimed = await describe(session, settings, rows)
        await session.commit()
        return claimed


async def describe(
    session: AsyncSession, settings: Settings, rows: list[Delivery]
) -> list[Claimed]:
    events = {
        e.id: e
        for e in await session.scalars(
            select(OutboxEvent).where(OutboxEvent.id.in_({r.event_id for r in rows}))
        )
    }
    subs = {
        s.id: s
        for s in await session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.id.in_({r.subscription_id for r in rows if r.subscription_id})
            )
        )
    }
    accounts = {r.account_id for r in rows if r.account_id is not None}
    addresses: dict[int, tuple[str | None, str]] = {}
    if accounts:
        found = await session.execute(
            select(
                Account.id,
                Researcher.email,
                NotificationPreference.email,
                NotificationPreference.language,
            )
            .outerjoin(Researcher, Researcher.id == Account.researcher_id)
            .outerjoin(NotificationPreference, NotificationPreference.account_id == Account.id)
            .where(Account.id.in_(accounts))
        )
        addresses = {pk: (own or theirs, lang or "en") for pk, theirs, own, lang in found}
    claimed = []
    for row in rows:
        event = events[row.event_id]
        if row.subscription_id is not None:
            sub = subs[row.subscription_id]
            claimed.append(
                Claimed(
                    row.id,
                    row.delivery_id,
                    row.attempts,
                    WEBHOOK,
                    event.event,
                    subscription_id=sub.id,
                    url=sub.url,
                    secret=sub.secret,
                    body=webhooks.body_of(
                        row.delivery_id, event.event, event.created_at.isoformat(), _data(event)
                    ),
                    created_at=event.created_at,
                )
            )
        else:
            address, tag = addresses.get(row.account_id or 0, (None, "en"))
            language, subject, text = render(event, tag)
            claimed.append(
                Claimed(
                    row.id,
                    row.delivery_id,
                    row.attempts,
                    EMAIL,
                    event.event,
                    account_id=row.account_id,
                    mail=mailer.Mail(
                        address or "", subject, text, language, row.delivery_id, event.event
                    ),
                    created_at=event.created_at,
                )
            )
    return claimed


def _data(event: OutboxEvent) -> dict[str, Any]:
    return {
        "projectId": event.project_id,
        "institutionId": event.institution_id,
        "datasetId": event.dataset_id,
        "uploadId": event.upload_id,
        "data": event.payload,
    }


async def attempt(settings: Settings, client: httpx.AsyncClient, claimed: Claimed) -> Result:
    started, clock = utcnow(), time.perf_counter()
    final = False
    if claimed.channel == WEBHOOK:
        outcome = await webhooks.post(
            client,
            url=claimed.url,
            secret=claimed.secret,
            event=claimed.event,
            delivery_id=claimed.delivery_id,
            body=claimed.body,
            seconds=settings.webhook_timeout_seconds,
            allow_private=settings.webhook_allow_private,
        )
        ok, code, status, response = outcome.ok, outcome.code, outcome.status, outcome.response
    else:
        assert claimed.mail is not None
        sent = await mailer.send(settings, claimed.mail)
        ok, code, status, response, final = (
            sent.ok,
            sent.code,
            sent.status,
            sent.response,
            sent.final,
        )
    ms = int((time.perf_counter() - clock) * 1000)
    return Result(claimed, ok, code, status, response, started, ms, final)


async def record(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    owner: str,
    results: Iterable[Result],
) -> None:
    """The outcomes, in one transaction: each attempt logged; a delivery still held by this
    dispatcher moves on (delivered, retried later, or failed); a subscription counts its
    failures in a row and is disabled at webhook_disable_after, its creator told."""
    results = list(results)
    now = utcnow()
    async with sessions() as session:
        await begin_write(session)
        rows = {
            r.id: r
            for r in await session.scalars(
                select(Delivery)
                .where(Delivery.id.in_([r.claimed.pk for r in results]))
                .with_for_update()
            )
        }
        for result in results:
            row = rows.get(result.claimed.pk)
            if row is None:
                continue  # its event or subscription was deleted meanwhile
            session.add(
                DeliveryAttempt(
                    delivery_id=row.id,
                    attempt=result.claimed.attempt,
                    started_at=result.started_at,
                    duration_ms=result.duration_ms,
                    ok=result.ok,
                    code=result.code,
                    status=result.status,
                    response=result.response,
                    worker=owner[:64],
                )
            )
            if row.claimed_by != owner or row.state != PENDING:
                continue  # another dispatcher took it over after our claim expired
            row.claimed_by = row.claim_expires_at = None
            row.last_code, row.last_status = result.code, result.status
            max_attempts = (
                settings.webhook_max_attempts
                if row.channel == WEBHOOK
                else settings.email_max_attempts
            )
            if result.ok:
                row.state, row.delivered_at = DELIVERED, now
            elif result.final or row.attempts >= max_attempts:
                row.state = FAILED
            else:
                row.next_attempt_at = now + dt.timedelta(seconds=backoff(settings, row.attempts))
            if row.subscription_id is not None:
                await _count(session, settings, row.subscription_id, result.ok)
            if result.code == DeliveryCode.EMAIL_BOUNCED and row.account_id is not None:
                await bounced(session, settings, row.account_id, result)
        await session.commit()


async def _count(session: AsyncSession, settings: Settings, subscription_id: int, ok: bool) -> None:
    sub = await session.get(WebhookSubscription, subscription_id)
    if sub is None:
        return
    if ok:
        sub.consecutive_failures = 0
        return
    sub.consecutive_failures += 1
    if sub.enabled and sub.consecutive_failures >= settings.webhook_disable_after:
        sub.enabled = False
        sub.disabled_at = utcnow()
        sub.disabled_reason = (
            f"{sub.consecutive_failures} consecutive failed attempts"
            f" (SATREPS_WEBHOOK_DISABLE_AFTER={settings.webhook_disable_after})"
        )
        emit(
            session,
            "webhook.disabled",
            project_id=sub.project_id,
            institution_id=sub.institution_id,
            recipients=[sub.created_by] if sub.created_by is not None else [],
            payload={"subscription_id": sub.id, "url": sub.url, "reason": sub.disabled_reason},
        )


async def bounced(
    session: AsyncSession, settings: Settings, account_id: int, result: Result
) -> None:
    pref = await session.get(NotificationPreference, account_id)
    if pref is None:
        address = result.claimed.mail.to if result.claimed.mail else None
        pref = NotificationPreference(
            account_id=account_id, email=address, language="en", mode=settings.email_default_mode
        )
        session.add(pref)
    pref.bounced_at = utcnow()
    pref.bounce_message = result.response


async def anything_due(sessions: async_sessionmaker[AsyncSession]) -> bool:
    now = utcnow()
    async with sessions() as session:
        found = await session.scalar(
            select(OutboxEvent.id).where(OutboxEvent.fanned_out_at.is_(None)).limit(1)
        ) or await session.scalar(
            select(Delivery.id)
            .where(
                Delivery.state == PENDING,
                Delivery.next_attempt_at <= now,
                or_(Delivery.claim_expires_at.is_(None), Delivery.claim_expires_at < now),
            )
            .limit(1)
        )
        return found is not None
