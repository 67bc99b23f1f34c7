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
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import begin_write, utcnow
from server.models import (
    Account,
    Dataset,
    DatasetVersion,
    Delivery,
    DeliveryAttempt,
    NotificationPreference,
    OutboxEvent,
    ProjectMember,
    Researcher,
    Upload,
    WebhookSubscription,
)
from server.models.enums import AccessLevel
from server.notifications import mail as mailer
from server.notifications import webhooks
from server.notifications.delivery_codes import DeliveryCode
from server.notifications.events import emit
from server.notifications.messages import render, render_digest

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED, DIGEST = "pending", "delivered", "failed", "digest"
WEBHOOK, EMAIL = "webhook", "email"


def dispatcher_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next attempt: doubling from webhook_backoff_seconds, at most
    webhook_backoff_max_seconds, plus up to 50% jitter (receivers coming back are not hit
    by every retry at once)."""
    base = settings.webhook_backoff_seconds * 2 ** max(0, attempts - 1)
    delay = min(settings.webhook_backoff_max_seconds, base)
    return delay * (1 + random.uniform(0, 0.5))


# ---- fan-out ----------------------------------------------------------------------------


@dataclass
class _Audience:
    """The e-mail recipients of a batch of events: account -> (address, language, mode,
    bounced)."""

    accounts: dict[int, tuple[str | None, str, str, bool]] = field(default_factory=dict)
    by_project: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_institution: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))


async def _complete_subjects(
    session: AsyncSession, events: Sequence[OutboxEvent]
) -> dict[int, Any]:
    """Fill in each event's dataset, project and institution from its upload or dataset;
    returns {dataset id: access level}."""
    uploads = {e.upload_id for e in events if e.upload_id is not None and e.dataset_id is None}
    if uploads:
        rows = await session.execute(
            select(Upload.id, DatasetVersion.dataset_id)
            .join(DatasetVersion, DatasetVersion.id == Upload.version_id)
            .where(Upload.id.in_(uploads))
        )
        dataset_of = dict(rows.all())
        for e in events:
            if e.upload_id is not None and e.dataset_id is None:
                e.dataset_id = dataset_of.get(e.upload_id)
    datasets = {e.dataset_id for e in events if e.dataset_id is not None}
    levels: dict[int, Any] = {}
    if datasets:
        found = (
            await session.execute(
                select(
                    Dataset.id,
                    Dataset.project_id,
                    Dataset.owner_institution_id,
                    Dataset.access_level,
                ).where(Dataset.id.in_(datasets))
            )
        ).all()
        owners = {pk: (project, institution) for pk, project, institution, _ in found}
        levels = {pk: level for pk, _, _, level in found}
        for e in events:
            if e.dataset_id in owners:
                project, institution = owners[e.dataset_id]
                e.project_id = e.project_id or project
                e.institution_id = e.institution_id or institution
    return levels


def _institution_only(event: OutboxEvent, levels: dict[int, Any]) -> bool:
    """An institution-level dataset's events are the owner institution's alone: the project's
    other members may not see the dataset (server/access/visibility.py)."""
    return event.dataset_id is not None and levels.get(event.dataset_id) == AccessLevel.INSTITUTION


async def _audience(
    session: AsyncSession, settings: Settings, events: Sequence[OutboxEvent]
) -> _Audience:
    audience = _Audience()
    projects = {e.project_id for e in events if e.project_id and e.recipients is None}
    institutions = {e.institution_id for e in events if e.institution_id and e.recipients is None}
    listed = {a for e in events for a in (e.recipients or [])}
    if projects:
        rows = await session.execute(
            select(ProjectMember.project_id, Account.id)
            .join(Account, Account.researcher_id == ProjectMember.researcher_id)
            .where(ProjectMember.project_id.in_(projects))
        )
        for project, account in rows:
            audience.by_project[project].add(account)
    if institutions:
        rows = await session.execute(
            select(Account.institution_id, Account.id).where(
                Account.institution_id.in_(institutions)
            )
        )
        for institution, account in rows:
            if institution is not None:
                audience.by_institution[institution].add(account)
    everyone = listed.union(*audience.by_project.values(), *audience.by_institution.values())
    if not everyone:
        return audience
    people = await session.execute(
        select(Account.id, Researcher.email, NotificationPreference)
        .outerjoin(Researcher, Researcher.id == Account.researcher_id)
        .outerjoin(NotificationPreference, NotificationPreference.account_id == Account.id)
        .where(Account.id.in_(everyone))
    )
    for account, researcher_email, pref in people:
        if pref is None:
            audience.accounts[account] = (
                researcher_email,
                "en",
                settings.email_default_mode,
                False,
            )
        else:
            address = pref.email or researcher_email
            audience.accounts[account] = (
                address,
                pref.language,
                pref.mode,
                pref.bounced_at is not None,
            )
    return audience


def _recipients(event: OutboxEvent, audience: _Audience, levels: dict[int, Any]) -> set[int]:
    if event.recipients is not None:
        return set(event.recipients)
    found: set[int] = set()
    if event.project_id and not _institution_only(event, levels):
        found |= audience.by_project.get(event.project_id, set())
    if event.institution_id:
        found |= audience.by_institution.get(event.institution_id, set())
    return found


async def fan_out(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, limit: int = 500
) -> int:
    """Fan out up to `limit` outbox rows; returns how many."""
    async with sessions() as session:
        await begin_write(session)
        events = list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.fanned_out_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not events:
            return 0
        levels = await _complete_subjects(session, events)
        subscriptions = await _subscriptions(session, events)
        audience = await _audience(session, settings, events) if settings.smtp_host else None
        now = utcnow()
        rows: list[Delivery] = []
        for event in events:
            event.fanned_out_at = now
            for sub in subscriptions:
                if _matches(sub, event, levels):
                    rows.append(_delivery(event, now, WEBHOOK, PENDING, subscription_id=sub.id))
            if audience is None:
                continue
            for account in sorted(_recipients(event, audience, levels)):
                if account not in audience.accounts:
                    continue
                address, _, mode, bounced = audience.accounts[account]
                if mode == "none" or not address:
                    continue
                state = DIGEST if mode == "digest" else PENDING
                row = _delivery(event, now, EMAIL, state, account_id=account)
                if bounced:
                    row.state, row.last_code = FAILED, DeliveryCode.EMAIL_SUPPRESSED
                rows.append(row)
        session.add_all(rows)
        await session.commit()
        return len(events)


async def _subscriptions(
    session: AsyncSession, events: Sequence[OutboxEvent]
) -> list[WebhookSubscription]:
    projects = {e.project_id for e in events if e.project_id}
    institutions = {e.institution_id for e in events if e.institution_id}
    if not projects and not institutions:
        return []
    return list(
        await session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.enabled,
                or_(
                    WebhookSubscription.project_id.in_(projects),
                    WebhookSubscription.institution_id.in_(institutions),
                ),
            )
        )
    )


def _matches(sub: WebhookSubscription, event: OutboxEvent, levels: dict[int, Any]) -> bool:
    if sub.events is not None and event.event not in sub.events:
        return False
    if sub.project_id is not None:
        return sub.project_id == event.project_id and not _institution_only(event, levels)
    return sub.institution_id == event.institution_id


def _delivery(
    event: OutboxEvent, now: dt.datetime, channel: str, state: str, **target: Any
) -> Delivery:
    return Delivery(
        delivery_id=str(uuid.uuid4()),
        event_id=event.id,
        channel=channel,
        state=state,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
        **target,
    )


# ---- claim, deliver, record ---------------------------------------------------------------


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
        claimed = await _describe(session, settings, rows)
        await session.commit()
        return claimed


async def _describe(
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
                await _bounced(session, settings, row.account_id, result)
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


async def _bounced(
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


# ---- the loop ----------------------------------------------------------------------------


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


# ---- the daily digest --------------------------------------------------------------------


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
        claimed = await _describe(session, settings, rows)
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
            await _bounced(session, settings, first.account_id or 0, result)
        await session.commit()
