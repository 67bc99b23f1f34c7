"""Webhook subscriptions, redelivery and e-mail preferences: the rules and the writes.

Who manages a subscription: a project's are made and changed by the project's editors
(staff, or its principal investigators: server.projects.service.require_project_editor);
an institution's by staff or the accounts acting for the institution (Account.institution_id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import STAFF, require_signed_in
from server.core.config import Settings
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, Forbidden, NotFound
from server.core.languages import standard_tag
from server.core.validation import check_email
from server.models import Delivery, Institution, NotificationPreference, WebhookSubscription
from server.notifications.addresses import check_target
from server.notifications.delivery import DELIVERED, FAILED, PENDING, WEBHOOK
from server.notifications.errors import NotificationErrorCode
from server.notifications.events import check_event
from server.notifications.webhooks import new_secret
from server.projects.service import require_project_editor, visible_project

MODES = ("each", "digest", "none")


@dataclass(frozen=True)
class CreatedWebhook:
    subscription: WebhookSubscription
    secret: str  # shown once


async def require_manager(
    session: AsyncSession, principal: Principal, sub_project: int | None, institution: int | None
) -> None:
    require_signed_in(principal)
    if sub_project is not None:
        project = await visible_project(session, principal, sub_project)
        await require_project_editor(session, principal, project)
        return
    if institution is None or await session.get(Institution, institution) is None:
        raise NotFound("institution", "institutionId")
    if principal.has_role(*STAFF) or principal.institution_id == institution:
        return
    raise Forbidden("only staff or the institution's own accounts manage its webhooks")


def _events(raw: Sequence[str] | None) -> list[str] | None:
    if raw is None:
        return None
    names: list[str] = []
    for name in raw:
        check_event(name, "events")
        if name not in names:
            names.append(name)
    return names


async def create_webhook(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    *,
    url: str,
    project_id: int | None = None,
    institution_id: int | None = None,
    events: Sequence[str] | None = None,
) -> CreatedWebhook:
    if project_id is not None and institution_id is not None:
        # an id of no row is NOT_FOUND at its field before the two are refused together
        await visible_project(session, principal, project_id)
        if await session.get(Institution, institution_id) is None:
            raise NotFound("institution", "institutionId")
    if (project_id is None) == (institution_id is None):
        raise DomainError.one(
            NotificationErrorCode.ONE_TARGET,
            "a webhook is for one project or one institution: give projectId or institutionId",
            None,
        )
    await require_manager(session, principal, project_id, institution_id)
    names = _events(events)
    target = await check_target(url, allow_private=settings.webhook_allow_private)
    secret = new_secret()
    sub = WebhookSubscription(
        project_id=project_id,
        institution_id=institution_id,
        url=target.url,
        secret=secret,
        events=names,
        enabled=True,
        consecutive_failures=0,
        created_by=principal.account_id,
    )
    session.add(sub)
    await session.flush()
    return CreatedWebhook(sub, secret)


async def managed_webhook(
    session: AsyncSession, principal: Principal, subscription_id: int
) -> WebhookSubscription:
    require_signed_in(principal)
    sub = await session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise NotFound("webhook")
    try:
        await require_manager(session, principal, sub.project_id, sub.institution_id)
    except NotFound as error:
        raise NotFound("webhook") from error
    return sub


async def set_webhook_enabled(
    session: AsyncSession, principal: Principal, subscription_id: int, enabled: bool
) -> WebhookSubscription:
    """Enabling again clears the failure count and the reason; the deliveries that waited
    while it was disabled go out."""
    sub = await managed_webhook(session, principal, subscription_id)
    sub.enabled = enabled
    if enabled:
        sub.consecutive_failures, sub.disabled_reason, sub.disabled_at = 0, None, None
    else:
        sub.disabled_reason, sub.disabled_at = "disabled by a manager", utcnow()
    await session.flush()
    return sub


async def delete_webhook(
    session: AsyncSession, principal: Principal, subscription_id: int
) -> WebhookSubscription:
    sub = await managed_webhook(session, principal, subscription_id)
    await session.delete(sub)  # its deliveries and their log go with it (ON DELETE CASCADE)
    await session.flush()
    return sub


async def redeliver(session: AsyncSession, principal: Principal, delivery_id: str) -> Delivery:
    """Send a finished webhook delivery again, under the same delivery id: it is due now,
    with a fresh round of attempts (the log keeps the earlier ones)."""
    row = await session.scalar(select(Delivery).where(Delivery.delivery_id == delivery_id))
    if row is None:
        raise NotFound("delivery", "deliveryId")
    if row.channel != WEBHOOK or row.subscription_id is None:
        raise DomainError.one(
            NotificationErrorCode.NOT_A_WEBHOOK_DELIVERY, "this delivery is an e-mail", "deliveryId"
        )
    try:
        sub = await managed_webhook(session, principal, row.subscription_id)
    except NotFound as error:
        raise NotFound("delivery", "deliveryId") from error
    if not sub.enabled:
        raise DomainError.one(
            NotificationErrorCode.WEBHOOK_DISABLED,
            "the webhook is disabled: enable it first (setWebhookEnabled)",
            "deliveryId",
        )
    if row.state not in (DELIVERED, FAILED):
        raise DomainError.one(
            NotificationErrorCode.DELIVERY_IN_FLIGHT,
            "this delivery is still being tried",
            "deliveryId",
        )
    row.state, row.attempts, row.next_attempt_at = PENDING, 0, utcnow()
    row.claimed_by = row.claim_expires_at = None
    await session.flush()
    return row


async def set_preferences(
    session: AsyncSession,
    principal: Principal,
    *,
    mode: str | None = None,
    email: str | None = None,
    language: str | None = None,
    default_mode: str = "each",
) -> NotificationPreference:
    """The caller's e-mail preference. Setting the address (even the same one) clears a
    bounce: mail goes to it again."""
    require_signed_in(principal)
    assert principal.account_id is not None
    errors = Collector()
    if mode is not None and mode not in MODES:
        errors.add(NotificationErrorCode.INVALID_MODE, f"mode is one of {', '.join(MODES)}", "mode")
    clean = check_email(errors, "email", email) if email else None
    tag = None
    if language is not None:
        try:
            tag = standard_tag(language, "language")
        except DomainError as error:
            errors.details.extend(error.details)
    errors.raise_if_any()
    if mode is None and email is None and language is None:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "give mode, email or language", None)
    pref = await session.get(NotificationPreference, principal.account_id)
    if pref is None:
        pref = NotificationPreference(
            account_id=principal.account_id, language="en", mode=default_mode
        )
        session.add(pref)
    if mode is not None:
        pref.mode = mode
    if email is not None:
        pref.email = clean or None
        pref.bounced_at = pref.bounce_message = None
    if tag is not None:
        pref.language = tag
    pref.updated_at = utcnow()
    await session.flush()
    return pref
