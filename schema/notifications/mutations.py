"""Notifications: the mutations."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id, optional_id
from schema.context import Info
from schema.notifications.types import (
    CreateWebhookInput,
    CreateWebhookPayload,
    NotificationPreferences,
    NotificationPreferencesInput,
    NotificationPreferencesPayload,
    RedeliverWebhookPayload,
    Webhook,
    WebhookPayload,
)
from schema.payloads import payload
from server import models
from server.access.auth import Principal
from server.notifications import service


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Subscribe a URL to a project's or an institution's events (its managers)."
        " The URL must be http(s) and resolve to public addresses. Answers the secret once."
    )
    async def create_webhook(self, info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
        async def op(session: AsyncSession, principal: Principal) -> service.CreatedWebhook:
            return await service.create_webhook(
                session,
                principal,
                info.context.settings,
                url=input.url,
                project_id=optional_id(input.project_id, "Project", "projectId"),
                institution_id=optional_id(input.institution_id, "Institution", "institutionId"),
                events=input.events,
            )

        def done(created: service.CreatedWebhook) -> CreateWebhookPayload:
            return CreateWebhookPayload(
                webhook=Webhook.from_row(created.subscription), secret=created.secret
            )

        return await payload(info, op, CreateWebhookPayload, done)

    @strawberry.mutation(
        description="Enable (the failure count cleared) or disable a webhook subscription."
    )
    async def set_webhook_enabled(
        self, info: Info, id: strawberry.ID, enabled: bool
    ) -> WebhookPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.WebhookSubscription:
            pk = decode_id(id, "Webhook", "id")
            return await service.set_webhook_enabled(session, principal, pk, enabled)

        return await payload(
            info, op, WebhookPayload, lambda row: WebhookPayload(webhook=Webhook.from_row(row))
        )

    @strawberry.mutation(description="Delete a webhook subscription and its delivery log.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> WebhookPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.WebhookSubscription:
            return await service.delete_webhook(session, principal, decode_id(id, "Webhook", "id"))

        return await payload(
            info, op, WebhookPayload, lambda row: WebhookPayload(webhook=Webhook.from_row(row))
        )

    @strawberry.mutation(
        description="Send a delivered or failed webhook delivery again, same delivery id."
    )
    async def redeliver_webhook(self, info: Info, delivery_id: str) -> RedeliverWebhookPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Delivery:
            return await service.redeliver(session, principal, delivery_id)

        return await payload(
            info,
            op,
            RedeliverWebhookPayload,
            lambda row: RedeliverWebhookPayload(delivery_id=row.delivery_id),
        )

    @strawberry.mutation(description="Set the caller's notification e-mail preference.")
    async def set_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> NotificationPreferencesPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.NotificationPreference:
            return await service.set_preferences(
                session,
                principal,
                mode=input.mode.value if input.mode else None,
                email=input.email,
                language=input.language,
                default_mode=info.context.settings.email_default_mode,
            )

        return await payload(
            info,
            op,
            NotificationPreferencesPayload,
            lambda row: NotificationPreferencesPayload(
                preferences=NotificationPreferences.from_row(row)
            ),
        )
