"""Access requests: asking for a dataset, withdrawing, expiring (lazily, and by `sweep`, a
worker cron), and what the domain's other rules share: the events it produces (`announce`,
the one place: audit row and outbox row), a request's effective status and the reads the
rules need. The decisions on a request (approve, deny, revoke a grant) are in `decisions`;
data use agreements and partner-country data in `agreements`. Services flush; the caller's
unit of work commits (one transaction: the rows, their audit rows and, at merge, their
outbox rows).

Expiry is lazy and the database is the truth: a PENDING request past `expires_at` reads as
EXPIRED everywhere (`effective_status`, the queries' SQL) and cannot be decided; `sweep`
marks such rows EXPIRED and announces the grants about to end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access import audit
from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access.visibility import dataset_readable, project_visible
from server.access_requests.errors import AccessRequestErrorCode
from server.access_requests.rules import decider_accounts, decider_rule
from server.core.config import get_settings
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, NotFound
from server.core.validation import clean_text
from server.models import (
    AccessGrant,
    AccessRequest,
    Account,
    AgreementAcceptance,
    Dataset,
    DataUseAgreement,
    Project,
)
from server.models.enums import AccessRequestStatus as Status
from server.notifications.events import emit

PURPOSE_MAX = 4000

# the events this domain produces; the notification outbox (issue 24, part B) takes them
REQUESTED = "access.requested"
APPROVAL_RECORDED = "access.approval_recorded"  # one side of a dual approval
APPROVED = "access.approved"  # the grant exists
DENIED = "access.denied"
WITHDRAWN = "access.withdrawn"
EXPIRED = "access.expired"
EXPIRING = "access.grant_expiring"
REVOKED = "access.grant_revoked"
AGREEMENT_PUBLISHED = "agreement.published"
AGREEMENT_ACCEPTED = "agreement.accepted"


# the events people are told of (server/notifications: webhooks of the project and
# institution, e-mail per preference), by their notification names; the others are audited
NOTIFIED = {
    REQUESTED: "access.requested",
    APPROVED: "access.approved",
    DENIED: "access.denied",
    EXPIRING: "access.expiring",
    REVOKED: "access.revoked",
}


async def announce(
    session: AsyncSession,
    principal: Principal | None,
    event_name: str,
    target: AccessRequest | AccessGrant | DataUseAgreement,
    **detail: Any,
) -> None:
    """The one place an access event is produced: its audit row and, for the events in
    NOTIFIED, its outbox row, both in the unit of work of the change. A new request is
    mailed to those who decide it; a decision, a revocation or a grant about to end to the
    requester."""
    detail = {"datasetId": target.dataset_id, **detail}
    if isinstance(target, AccessGrant):
        detail |= {"requestId": target.request_id, "researcherId": target.researcher_id}
    elif isinstance(target, AccessRequest):
        detail |= {"researcherId": target.researcher_id}
    session.add(
        audit.event(
            principal,
            event_name,
            target_type=type(target).__name__,
            target_id=target.id,
            detail=detail,
        )
    )
    if event_name not in NOTIFIED or isinstance(target, DataUseAgreement):
        return
    told: Any
    if event_name == REQUESTED:
        assert isinstance(target, AccessRequest)
        dataset = await session.get(Dataset, target.dataset_id)
        assert dataset is not None
        told = decider_accounts(dataset, target.dual)
    else:
        told = select(Account.id).where(Account.researcher_id == target.researcher_id)
    recipients: list[int] = sorted(set((await session.scalars(told)).all()))
    emit(
        session,
        NOTIFIED[event_name],
        dataset_id=target.dataset_id,
        recipients=recipients,
        payload=detail,
    )


# a step on one request: approve (with its end date bound), deny (its reason), withdraw
RequestStep = Callable[[AsyncSession, Principal, int], Awaitable[AccessRequest]]


def effective_status(request: AccessRequest, now: dt.datetime | None = None) -> Status:
    if request.status == Status.PENDING and request.expires_at <= (now or utcnow()):
        return Status.EXPIRED
    return request.status


def require_open(request: AccessRequest) -> None:
    """A request can still be decided or withdrawn: pending and not past its expiry, else
    REQUEST_EXPIRED or REQUEST_CLOSED."""
    status = effective_status(request)
    if status == Status.EXPIRED:
        raise DomainError.one(
            AccessRequestErrorCode.REQUEST_EXPIRED, "the request has expired", "requestId"
        )
    if status != Status.PENDING:
        raise DomainError.one(
            AccessRequestErrorCode.REQUEST_CLOSED,
            f"the request is {status.value} already",
            "requestId",
        )


# ---- reads the rules need ----------------------------------------------------------------


async def reachable_dataset(
    session: AsyncSession, principal: Principal, dataset_id: int
) -> Dataset:
    """A dataset one may ask for: its project is visible to the caller (its own metadata may
    not be: asking is how one gets in). Else NOT_FOUND, as for a dataset that is not there."""
    dataset = await session.scalar(
        select(Dataset)
        .join(Project, Project.id == Dataset.project_id)
        .where(Dataset.id == dataset_id, project_visible(principal))
    )
    if dataset is None:
        raise NotFound("dataset", "datasetId")
    return dataset


async def _readable(session: AsyncSession, principal: Principal, dataset_id: int) -> bool:
    found = await session.scalar(
        select(Dataset.id).where(Dataset.id == dataset_id, dataset_readable(principal))
    )
    return found is not None


async def is_decider(session: AsyncSession, principal: Principal, dataset_id: int) -> bool:
    found = await session.scalar(
        select(Dataset.id).where(Dataset.id == dataset_id, decider_rule(principal))
    )
    return found is not None


async def current_agreement(session: AsyncSession, dataset_id: int) -> DataUseAgreement | None:
    return await session.scalar(
        select(DataUseAgreement)
        .where(DataUseAgreement.dataset_id == dataset_id)
        .order_by(DataUseAgreement.version.desc())
        .limit(1)
    )


async def has_accepted(session: AsyncSession, agreement_id: int, researcher_id: int) -> bool:
    found = await session.scalar(
        select(AgreementAcceptance.id).where(
            AgreementAcceptance.agreement_id == agreement_id,
            AgreementAcceptance.researcher_id == researcher_id,
        )
    )
    return found is not None


async def _live_grant(
    session: AsyncSession, dataset_id: int, researcher_id: int, today: dt.date
) -> AccessGrant | None:
    return await session.scalar(
        select(AccessGrant).where(
            AccessGrant.dataset_id == dataset_id,
            AccessGrant.researcher_id == researcher_id,
            AccessGrant.revoked_at.is_(None),
            AccessGrant.valid_until >= today,
        )
    )


def require_researcher(principal: Principal) -> int:
    require_signed_in(principal)
    if principal.researcher_id is None:
        raise DomainError.one(
            AccessRequestErrorCode.RESEARCHER_REQUIRED,
            "this account is linked to no researcher",
            None,
        )
    return principal.researcher_id


# ---- requests ----------------------------------------------------------------------------


async def request_access(
    session: AsyncSession, principal: Principal, dataset_id: int, purpose: str | None
) -> AccessRequest:
    require_signed_in(principal)
    errors = Collector()
    text = clean_text(errors, "purpose", purpose, max_len=PURPOSE_MAX, required=True)
    errors.raise_if_any()
    dataset = await reachable_dataset(session, principal, dataset_id)
    researcher_id = require_researcher(principal)
    now = utcnow()
    if await _live_grant(session, dataset.id, researcher_id, now.date()) is not None:
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_GRANTED,
            "you hold a grant for this dataset (accept its current agreement to use it)",
            "datasetId",
        )
    if await _readable(session, principal, dataset.id):
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_READABLE,
            "you may already read this dataset",
            "datasetId",
        )
    open_request = await session.scalar(
        select(AccessRequest)
        .where(
            AccessRequest.dataset_id == dataset.id,
            AccessRequest.researcher_id == researcher_id,
            AccessRequest.status == Status.PENDING,
        )
        .with_for_update()
    )
    if open_request is not None:
        if effective_status(open_request, now) == Status.PENDING:
            raise DomainError.one(
                AccessRequestErrorCode.DUPLICATE_REQUEST,
                "you have an open request for this dataset",
                "datasetId",
            )
        await _expire(session, open_request, now)
        await session.flush()
    ttl = dt.timedelta(days=get_settings().access_request_ttl_days)
    request = AccessRequest(
        dataset_id=dataset.id,
        researcher_id=researcher_id,
        account_id=principal.account_id,
        purpose=text,
        status=Status.PENDING,
        dual=dataset.partner_country_data,
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(request)
    await session.flush()
    await announce(session, principal, REQUESTED, request, dual=request.dual)
    return request


async def _expire(session: AsyncSession, request: AccessRequest, now: dt.datetime) -> None:
    request.status = Status.EXPIRED
    request.decided_at = request.expires_at
    await announce(session, None, EXPIRED, request, expiredAt=request.expires_at.isoformat())


async def withdraw_request(
    session: AsyncSession, principal: Principal, request_id: int
) -> AccessRequest:
    require_signed_in(principal)
    request = await session.scalar(
        select(AccessRequest).where(AccessRequest.id == request_id).with_for_update()
    )
    mine = request is not None and (
        request.researcher_id == principal.researcher_id
        or request.account_id == principal.account_id
    )
    if request is None or not mine:
        raise NotFound("access request", "requestId")
    require_open(request)
    request.status = Status.WITHDRAWN
    request.decided_at = utcnow()
    await session.flush()
    await announce(session, principal, WITHDRAWN, request)
    return request


# ---- the sweep (a worker cron) -----------------------------------------------------------


@dataclass
class Swept:
    expired: list[int]
    expiring: list[int]


async def sweep(
    sessions: async_sessionmaker[AsyncSession], now: dt.datetime | None = None
) -> Swept:
    """Marks the requests whose time ran out EXPIRED and announces, once, the grants that end
    within the notice period. Safe to run any number of times, by any number of workers: each
    change is guarded by the state it changes."""
    moment = now or utcnow()
    notice = moment.date() + dt.timedelta(days=get_settings().access_grant_notice_days)
    out = Swept([], [])
    async with sessions() as session:
        due = await session.scalars(
            select(AccessRequest).where(
                AccessRequest.status == Status.PENDING, AccessRequest.expires_at <= moment
            )
        )
        for request in due.all():
            changed = await session.execute(
                update(AccessRequest)
                .where(AccessRequest.id == request.id, AccessRequest.status == Status.PENDING)
                .values(status=Status.EXPIRED, decided_at=request.expires_at)
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                await announce(
                    session, None, EXPIRED, request, expiredAt=request.expires_at.isoformat()
                )
                out.expired.append(request.id)
        ending = await session.scalars(
            select(AccessGrant).where(
                AccessGrant.revoked_at.is_(None),
                AccessGrant.expiring_noticed_at.is_(None),
                AccessGrant.valid_until >= moment.date(),
                AccessGrant.valid_until <= notice,
            )
        )
        for grant in ending.all():
            changed = await session.execute(
                update(AccessGrant)
                .where(AccessGrant.id == grant.id, AccessGrant.expiring_noticed_at.is_(None))
                .values(expiring_noticed_at=moment)
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount:  # type: ignore[attr-defined]
                await announce(
                    session, None, EXPIRING, grant, validUntil=grant.valid_until.isoformat()
                )
                out.expiring.append(grant.id)
        await session.commit()
    return out
