"""Notifications: the queries."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id, optional_id
from schema.context import Info
from schema.errors import read
from schema.notifications.types import NotificationPreferences, Webhook, WebhookDelivery
from server.notifications import queries
from server.notifications.events import EVENTS


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="The event names one may subscribe to (and emit).")
    def notification_events(self) -> list[str]:
        return list(EVENTS)

    @strawberry.field(
        description="A project's or an institution's webhooks (give one id); for its managers."
    )
    async def webhooks(
        self,
        info: Info,
        project_id: strawberry.ID | None = None,
        institution_id: strawberry.ID | None = None,
    ) -> list[Webhook] | None:
        async def op(session: AsyncSession) -> list[Webhook]:
            project = optional_id(project_id, "Project", "projectId")
            institution = optional_id(institution_id, "Institution", "institutionId")
            rows = await queries.webhooks(
                session, info.context.principal, project_id=project, institution_id=institution
            )
            return [Webhook.from_row(r) for r in rows]

        return await read(info, op)

    @strawberry.field(description="A webhook's newest deliveries (at most 100), with their log.")
    async def webhook_deliveries(
        self, info: Info, webhook_id: strawberry.ID, first: int = 20
    ) -> list[WebhookDelivery] | None:
        async def op(session: AsyncSession) -> list[WebhookDelivery]:
            pk = decode_id(webhook_id, "Webhook", "webhookId")
            rows, log = await queries.deliveries(session, info.context.principal, pk, first)
            return [WebhookDelivery.from_row(r, event, log.get(r.id, [])) for r, event in rows]

        return await read(info, op)

    @strawberry.field(description="The caller's notification e-mail preference.")
    async def notification_preferences(self, info: Info) -> NotificationPreferences | None:
        async def op(session: AsyncSession) -> NotificationPreferences:
            row = await queries.my_preferences(
                session, info.context.principal, info.context.settings
            )
            return NotificationPreferences.from_row(row)

        return await read(info, op)
