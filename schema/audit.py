"""The audit log, for admins: auditLog(filter, first/after, last/before)."""

from __future__ import annotations

import datetime as dt
from typing import cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry import relay
from strawberry.scalars import JSON

from schema.connections import Connection, connection, page_args, parse_global_id
from schema.context import Info
from schema.errors import read
from server import models
from server.access import audit as service
from server.core.errors import DomainError, ErrorCode, Forbidden
from server.core.pagination import Page, paginate

# a target's GraphQL type where its model is named otherwise; other names are the same
GRAPHQL_TYPES = {"Upload": "DatasetUpload", "WebhookSubscription": "Webhook"}
MODELS = {graphql: model for model, graphql in GRAPHQL_TYPES.items()}
# rows written before a target was named by its model (the worker's quarantine said "upload")
GRAPHQL_TYPES["upload"] = "DatasetUpload"


def target_gid(target_type: str | None, target_id: int | None) -> relay.GlobalID | None:
    """The target's Relay global id (`node(id:)` finds every target that is a Node)."""
    if target_type is None or target_id is None:
        return None
    return relay.GlobalID(GRAPHQL_TYPES.get(target_type, target_type), str(target_id))


def target_key(value: strawberry.ID) -> tuple[str, int]:
    """The stored (model name, database id) of a target's global id."""
    gid = parse_global_id(value, "filter.targetId")
    try:
        return MODELS.get(gid.type_name, gid.type_name), int(gid.node_id)
    except ValueError:
        raise DomainError.one(
            ErrorCode.INVALID_ID, "filter.targetId is not a valid id", "filter.targetId"
        ) from None


AuditOutcome = strawberry.enum(
    service.Outcome,
    name="AuditOutcome",
    description="OK; DENIED (the caller may not); REJECTED (a rule refused the input);"
    " ERROR (our fault, masked from the caller)",
)


@strawberry.type(description="One recorded action: who, what, when, target, outcome.")
class AuditEvent:
    id: int
    at: dt.datetime
    actor: str = strawberry.field(description="username, 'anonymous' or 'system'")
    action: str = strawberry.field(
        description="the mutation's name, downloadUrl, or liftEmbargo (system)"
    )
    target_type: str | None = strawberry.field(description="the target's GraphQL type")
    target_id: relay.GlobalID | None = strawberry.field(
        description="the target's global id (node(id:) answers it when its type is a Node)"
    )
    outcome: AuditOutcome  # type: ignore[valid-type]
    code: str | None = strawberry.field(description="the error code when not OK")
    detail: JSON | None = strawberry.field(description="the arguments, and what else matters")
    client: str | None = strawberry.field(description="the caller's address")

    @classmethod
    def from_row(cls, row: models.AuditEvent) -> AuditEvent:
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target_type=GRAPHQL_TYPES.get(row.target_type or "", row.target_type),
            target_id=target_gid(row.target_type, row.target_id),
            outcome=service.Outcome(row.outcome),
            code=row.code,
            detail=cast(JSON | None, row.detail),
            client=row.client,
        )


@strawberry.input
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    outcome: AuditOutcome | None = None  # type: ignore[valid-type]
    target_type: str | None = strawberry.field(default=None, description="e.g. Dataset")
    target_id: strawberry.ID | None = strawberry.field(
        default=None, description="a target's global id (implies its type)"
    )
    since: dt.datetime | None = strawberry.field(default=None, description="inclusive")
    until: dt.datetime | None = strawberry.field(default=None, description="exclusive")


@strawberry.type
class AuditQueries:
    @strawberry.field(description="The audit log, oldest first (use last/before for the newest)")
    async def audit_log(
        self,
        info: Info,
        filter: AuditFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditEvent] | None:
        principal = info.context.principal

        async def op(session: AsyncSession) -> Page[models.AuditEvent]:
            if not principal.is_authenticated:
                raise DomainError.one(ErrorCode.UNAUTHENTICATED, "the audit log needs an API token")
            if not principal.is_admin:
                raise Forbidden("only admins (with the admin scope) read the audit log")
            flt = None
            if filter is not None:
                target_type = filter.target_type
                target_type = MODELS.get(target_type, target_type) if target_type else None
                target_id = None
                if filter.target_id is not None:
                    target_type, target_id = target_key(filter.target_id)
                flt = service.AuditFilter(
                    actor=filter.actor,
                    action=filter.action,
                    outcome=filter.outcome.value if filter.outcome else None,
                    target_type=target_type,
                    target_id=target_id,
                    since=filter.since,
                    until=filter.until,
                )
            return await paginate(
                session,
                service.audit_query(flt),
                models.AuditEvent.id,
                page_args(first, after, last, before),
            )

        return connection(await read(info, op), AuditEvent.from_row)
