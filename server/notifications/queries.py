"""Reads: a project's or institution's webhooks and their delivery log (for their
managers), and the caller's e-mail preference."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.core.config import Settings
from server.models import (
    Delivery,
    DeliveryAttempt,
    NotificationPreference,
    OutboxEvent,
    WebhookSubscription,
)
from server.notifications.service import managed_webhook, require_manager

MAX_DELIVERIES = 100


async def webhooks(
    session: AsyncSession,
    principal: Principal,
    *,
    project_id: int | None,
    institution_id: int | None,
) -> list[WebhookSubscription]:
    await require_manager(session, principal, project_id, institution_id)
    column = (
        WebhookSubscription.project_id
        if project_id is not None
        else WebhookSubscription.institution_id
    )
    target = project_id if project_id is not None else institution_id
    return list(
        await session.scalars(
            select(WebhookSubscription).where(column == target).order_by(WebhookSubscription.id)
        )
    )


async def deliveries(
    session: AsyncSession, principal: Principal, subscription_id: int, first: int
) -> tuple[list[tuple[Delivery, str]], dict[int, list[DeliveryAttempt]]]:
    """The newest `first` deliveries of a webhook (at most MAX_DELIVERIES), with every
    attempt of each (two statements whatever the count)."""
    sub = await managed_webhook(session, principal, subscription_id)
    found = await session.execute(
        select(Delivery, OutboxEvent.event)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.subscription_id == sub.id)
        .order_by(Delivery.id.desc())
        .limit(max(1, min(first, MAX_DELIVERIES)))
    )
    rows = [(row, event) for row, event in found]
    return rows, await attempts_of(session, [r.id for r, _ in rows])


async def attempts_of(
    session: AsyncSession, delivery_pks: Sequence[int]
) -> dict[int, list[DeliveryAttempt]]:
    found: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    if delivery_pks:
        for row in await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(delivery_pks))
            .order_by(DeliveryAttempt.id)
        ):
            found[row.delivery_id].append(row)
    return found


async def my_preferences(
    session: AsyncSession, principal: Principal, settings: Settings
) -> NotificationPreference:
    """The caller's preference; the defaults (not stored) when never set."""
    require_signed_in(principal)
    assert principal.account_id is not None
    pref = await session.get(NotificationPreference, principal.account_id)
    if pref is None:
        pref = NotificationPreference(
            account_id=principal.account_id, language="en", mode=settings.email_default_mode
        )
    return pref
