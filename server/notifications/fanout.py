"""Fan-out, the dispatcher's first step: each outbox row not yet fanned out becomes
delivery rows, in one transaction with the row's `fanned_out_at`: one per matching enabled
webhook subscription (the subject project's and institution's, filtered by their events;
an institution-level dataset's events go to its institution alone) and one per account told
by e-mail (when SMTP is set up), per the account's preference (each: due now; digest: waits
for the daily e-mail; none: no row). An address that bounced gets a failed row
(EMAIL_SUPPRESSED).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import begin_write, utcnow
from server.models import (
    Account,
    Dataset,
    DatasetVersion,
    Delivery,
    NotificationPreference,
    OutboxEvent,
    ProjectMember,
    Researcher,
    Upload,
    WebhookSubscription,
)
from server.models.enums import AccessLevel
from server.notifications.delivery import DIGEST, EMAIL, FAILED, PENDING, WEBHOOK
from server.notifications.delivery_codes import DeliveryCode


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
