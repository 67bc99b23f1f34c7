"""The audit log: every mutation, every download URL issued and every embargo lifted, with
who, what, when, target and outcome. Rows are only ever added."""

from __future__ import annotations

import datetime as dt
import enum
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.models import AuditEvent

__all__ = ["AuditEvent"]


class Outcome(enum.StrEnum):
    OK = "ok"
    DENIED = "denied"  # the caller may not do this
    REJECTED = "rejected"  # the input broke a rule
    ERROR = "error"  # our fault (masked from the caller)


OK, DENIED, REJECTED, ERROR = Outcome.OK, Outcome.DENIED, Outcome.REJECTED, Outcome.ERROR
DENIAL_CODES = frozenset({"FORBIDDEN", "UNAUTHENTICATED", "INSUFFICIENT_SCOPE"})
DETAIL_MAX = 4000


def outcome_of(code: str) -> str:
    return DENIED if code in DENIAL_CODES else REJECTED


def _detail(detail: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-safe and bounded: arguments are kept for the record, never whole files."""
    if not detail:
        return None
    text = json.dumps(detail, default=str, sort_keys=True)
    if len(text) > DETAIL_MAX:
        return {"truncated": text[:DETAIL_MAX]}
    return dict(json.loads(text))


def event(
    principal: Principal | None,
    action: str,
    *,
    target_type: str | None = None,
    target_id: int | None = None,
    outcome: str = OK,
    code: str | None = None,
    detail: dict[str, Any] | None = None,
    client: str | None = None,
) -> AuditEvent:
    """An audit row, to add to the session of the work it records (one transaction)."""
    return AuditEvent(
        account_id=principal.account_id if principal else None,
        actor=principal.actor if principal else "system",
        action=action,
        target_type=target_type,
        target_id=target_id,
        outcome=outcome,
        code=code,
        detail=_detail(detail),
        client=(client or "")[:64] or None,
    )


async def record(session: AsyncSession, row: AuditEvent) -> AuditEvent:
    session.add(row)
    await session.flush()
    return row


# a target type as older rows also spell it (the worker's quarantine wrote "upload")
STORED_AS = {"Upload": ("Upload", "upload")}


@dataclass
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    target_type: str | None = None
    target_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def audit_query(flt: AuditFilter | None) -> Select[Any]:
    stmt = select(AuditEvent)
    if flt is None:
        return stmt
    if flt.actor is not None:
        stmt = stmt.where(AuditEvent.actor == flt.actor)
    if flt.action is not None:
        stmt = stmt.where(AuditEvent.action == flt.action)
    if flt.outcome is not None:
        stmt = stmt.where(AuditEvent.outcome == flt.outcome)
    if flt.target_type is not None:
        stmt = stmt.where(
            AuditEvent.target_type.in_(STORED_AS.get(flt.target_type, (flt.target_type,)))
        )
    if flt.target_id is not None:
        stmt = stmt.where(AuditEvent.target_id == flt.target_id)
    if flt.since is not None:
        stmt = stmt.where(AuditEvent.at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(AuditEvent.at < flt.until)
    return stmt
