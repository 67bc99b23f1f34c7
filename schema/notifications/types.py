"""Notifications: the types, inputs and payloads."""

from __future__ import annotations

import datetime as dt
from enum import Enum

import strawberry

from schema.errors import UserError, error_codes
from server import models
from server.core.global_ids import global_id
from server.notifications import errors as codes
from server.notifications.delivery_codes import DeliveryCode as DeliveryCodeEnum

NotificationErrorCode = error_codes("NotificationErrorCode", codes.NotificationErrorCode)
DeliveryCode = strawberry.enum(
    DeliveryCodeEnum,
    name="DeliveryCode",
    description="Why an attempt of a webhook's or e-mail's delivery failed: stable, safe to"
    " switch on.",
)


@strawberry.type(description="An expected failure of a notification mutation.")
class NotificationError(UserError):
    code: NotificationErrorCode  # type: ignore[valid-type]


@strawberry.enum(description="How an account is told of events by e-mail.")
class EmailMode(Enum):
    EACH = "each"
    DIGEST = "digest"
    NONE = "none"


@strawberry.type(
    description="A webhook subscription of a project or an institution: events POSTed as"
    " signed JSON (README: Notifications, webhooks and e-mail). The secret is shown once,"
    " by createWebhook."
)
class Webhook:
    id: strawberry.ID
    project_id: strawberry.ID | None
    institution_id: strawberry.ID | None
    url: str
    events: list[str] | None = strawberry.field(description="null: every event")
    enabled: bool
    consecutive_failures: int
    disabled_reason: str | None = strawberry.field(
        description="Why it was disabled (too many failures in a row, or by a manager)"
    )
    disabled_at: dt.datetime | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: models.WebhookSubscription) -> Webhook:
        return cls(
            id=strawberry.ID(global_id("Webhook", row.id)),
            project_id=strawberry.ID(global_id("Project", row.project_id))
            if row.project_id
            else None,
            institution_id=strawberry.ID(global_id("Institution", row.institution_id))
            if row.institution_id
            else None,
            url=row.url,
            events=row.events,
            enabled=row.enabled,
            consecutive_failures=row.consecutive_failures,
            disabled_reason=row.disabled_reason,
            disabled_at=row.disabled_at,
            created_at=row.created_at,
        )


@strawberry.type(description="One attempt of a delivery: its outcome, as the log keeps it.")
class DeliveryAttempt:
    attempt: int
    started_at: dt.datetime
    duration_ms: int
    ok: bool
    code: DeliveryCode | None = strawberry.field(  # type: ignore[valid-type]
        description="Why it failed (null when it succeeded)"
    )
    status: int | None = strawberry.field(description="HTTP status or SMTP reply code")
    response: str | None = strawberry.field(description="The reply, first 1 KiB")
    worker: str | None

    @classmethod
    def from_row(cls, row: models.DeliveryAttempt) -> DeliveryAttempt:
        return cls(
            attempt=row.attempt,
            started_at=row.started_at,
            duration_ms=row.duration_ms,
            ok=row.ok,
            code=DeliveryCodeEnum(row.code) if row.code is not None else None,
            status=row.status,
            response=row.response,
            worker=row.worker,
        )


@strawberry.type(description="One event sent to one webhook, with every attempt.")
class WebhookDelivery:
    delivery_id: str = strawberry.field(description="X-Satreps-Delivery: same on every attempt")
    event: str
    state: str = strawberry.field(description="pending, delivered or failed")
    attempts: int
    last_code: str | None
    last_status: int | None
    next_attempt_at: dt.datetime
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    log: list[DeliveryAttempt]

    @classmethod
    def from_row(
        cls, row: models.Delivery, event: str, log: list[models.DeliveryAttempt]
    ) -> WebhookDelivery:
        return cls(
            delivery_id=row.delivery_id,
            event=event,
            state=row.state,
            attempts=row.attempts,
            last_code=row.last_code,
            last_status=row.last_status,
            next_attempt_at=row.next_attempt_at,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            log=[DeliveryAttempt.from_row(a) for a in log],
        )


@strawberry.type(description="The caller's notification e-mail preference.")
class NotificationPreferences:
    mode: EmailMode
    email: str | None = strawberry.field(
        description="Where mail goes (null: the linked researcher's address)"
    )
    language: str = strawberry.field(description="BCP 47 tag of the mail's language")
    bounced_at: dt.datetime | None = strawberry.field(
        description="The address bounced (EMAIL_BOUNCED): no mail until it is set again"
    )
    bounce_message: str | None

    @classmethod
    def from_row(cls, row: models.NotificationPreference) -> NotificationPreferences:
        return cls(
            mode=EmailMode(row.mode),
            email=row.email,
            language=row.language,
            bounced_at=row.bounced_at,
            bounce_message=row.bounce_message,
        )


@strawberry.input
class CreateWebhookInput:
    url: str
    project_id: strawberry.ID | None = None
    institution_id: strawberry.ID | None = None
    events: list[str] | None = strawberry.field(
        default=None, description="Event names (notificationEvents); null: every event"
    )


@strawberry.input
class NotificationPreferencesInput:
    mode: EmailMode | None = None
    email: str | None = strawberry.field(
        default=None, description="Setting it (even to the same address) clears a bounce"
    )
    language: str | None = None


@strawberry.type
class CreateWebhookPayload:
    webhook: Webhook | None = None
    secret: str | None = strawberry.field(
        default=None, description="The signing secret: shown this once, never again"
    )
    errors: list[NotificationError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookPayload:
    webhook: Webhook | None = None
    errors: list[NotificationError] = strawberry.field(default_factory=list)


@strawberry.type
class RedeliverWebhookPayload:
    delivery_id: str | None = None
    errors: list[NotificationError] = strawberry.field(default_factory=list)


@strawberry.type
class NotificationPreferencesPayload:
    preferences: NotificationPreferences | None = None
    errors: list[NotificationError] = strawberry.field(default_factory=list)
