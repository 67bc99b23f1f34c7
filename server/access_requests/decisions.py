"""The decisions on an access request: approving (one side of a dual approval, or the last
side needed, which turns the request into a grant, bounded by access_grant_days and by the
requester's acceptance of the current agreement), denying with a reason, and revoking a
grant. Who decides is `rules`' SQL; the events go through `service.announce`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import false, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access_requests.errors import AccessRequestErrorCode
from server.access_requests.rules import DUAL_SIDES, side_rule
from server.access_requests.service import (
    APPROVAL_RECORDED,
    APPROVED,
    DENIED,
    REVOKED,
    announce,
    current_agreement,
    has_accepted,
    is_decider,
    require_open,
)
from server.core.config import get_settings
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, Forbidden, NotFound
from server.core.validation import clean_text
from server.models import AccessApproval, AccessGrant, AccessRequest, Dataset
from server.models.enums import AccessRequestStatus as Status
from server.models.enums import ApprovalSide

REASON_MAX = 4000


async def _sides(
    session: AsyncSession, principal: Principal, dataset_id: int, dual: bool
) -> set[ApprovalSide]:
    """The sides the principal decides on, for a request on the dataset."""
    flag = true() if dual else false()
    sides = list(ApprovalSide)
    rules = [side_rule(principal, side, flag).label(f"side_{side.value}") for side in sides]
    row = (
        await session.execute(select(*rules).select_from(Dataset).where(Dataset.id == dataset_id))
    ).one()
    return {side for side, allowed in zip(sides, row, strict=True) if allowed}


async def _open_request_to_decide(
    session: AsyncSession, principal: Principal, request_id: int
) -> tuple[AccessRequest, set[ApprovalSide]]:
    """The request, still open, and the sides the caller decides on: the common checks of
    approving and denying."""
    require_signed_in(principal)
    request = await session.scalar(
        select(AccessRequest).where(AccessRequest.id == request_id).with_for_update()
    )
    if request is None:
        raise NotFound("access request", "requestId")
    if (
        principal.researcher_id is not None and request.researcher_id == principal.researcher_id
    ) or (request.account_id is not None and request.account_id == principal.account_id):
        raise DomainError.one(
            AccessRequestErrorCode.OWN_REQUEST, "nobody decides their own request", "requestId"
        )
    sides = await _sides(session, principal, request.dataset_id, request.dual)
    if not sides:
        if await is_decider(session, principal, request.dataset_id) or (
            await _sides(session, principal, request.dataset_id, not request.dual)
        ):
            raise Forbidden("your side does not decide this kind of request")
        raise Forbidden(
            "only the owner institution's data stewards or the project's PIs decide requests"
        )
    require_open(request)
    return request, sides


async def _approvals(session: AsyncSession, request_id: int) -> list[AccessApproval]:
    rows = await session.scalars(
        select(AccessApproval).where(AccessApproval.request_id == request_id)
    )
    return list(rows.all())


def _grant_end(raw: dt.date | None, today: dt.date) -> dt.date:
    longest = today + dt.timedelta(days=get_settings().access_grant_days)
    if raw is None:
        return longest
    if raw < today or raw > longest:
        raise DomainError.one(
            AccessRequestErrorCode.INVALID_GRANT_END,
            f"a grant ends between today and {longest.isoformat()}",
            "validUntil",
        )
    return raw


async def approve_request(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    valid_until: dt.date | None = None,
) -> AccessRequest:
    """One side's approval; the last side needed turns the request into a grant."""
    request, sides = await _open_request_to_decide(session, principal, request_id)
    now = utcnow()
    end = _grant_end(valid_until, now.date())
    agreement = await current_agreement(session, request.dataset_id)
    if agreement is not None and not await has_accepted(
        session, agreement.id, request.researcher_id
    ):
        raise DomainError.one(
            AccessRequestErrorCode.AGREEMENT_NOT_ACCEPTED,
            f"the requester has not accepted version {agreement.version} of the dataset's"
            " data use agreement",
            "requestId",
        )
    done = await _approvals(session, request.id)
    if any(a.account_id == principal.account_id for a in done):
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_APPROVED,
            "you approved this request already",
            "requestId",
        )
    needed = set(DUAL_SIDES) if request.dual else set(ApprovalSide)
    open_sides = [s for s in ApprovalSide if s in sides & needed - {a.side for a in done}]
    if not open_sides:
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_APPROVED,
            "your side has approved this request already",
            "requestId",
        )
    approval = AccessApproval(
        request_id=request.id,
        side=open_sides[0],
        account_id=principal.account_id,
        researcher_id=principal.researcher_id,
        at=now,
    )
    session.add(approval)
    approved = {a.side for a in done} | {approval.side}
    if request.dual and not set(DUAL_SIDES) <= approved:
        await session.flush()
        await announce(session, principal, APPROVAL_RECORDED, request, side=approval.side.value)
        return request
    request.status = Status.APPROVED
    request.decided_at = now
    request.decided_by = principal.account_id
    grant = AccessGrant(
        request_id=request.id,
        dataset_id=request.dataset_id,
        researcher_id=request.researcher_id,
        granted_at=now,
        valid_until=end,
    )
    session.add(grant)
    await session.flush()
    await announce(
        session, principal, APPROVED, request, grantId=grant.id, validUntil=end.isoformat()
    )
    return request


async def deny_request(
    session: AsyncSession, principal: Principal, request_id: int, reason: str | None
) -> AccessRequest:
    errors = Collector()
    text = clean_text(errors, "reason", reason, max_len=REASON_MAX, required=True)
    errors.raise_if_any()
    request, _ = await _open_request_to_decide(session, principal, request_id)
    request.status = Status.DENIED
    request.decided_at = utcnow()
    request.decided_by = principal.account_id
    request.denial_reason = text
    await session.flush()
    await announce(session, principal, DENIED, request, reason=text)
    return request


# ---- grants ------------------------------------------------------------------------------


async def revoke_grant(
    session: AsyncSession, principal: Principal, grant_id: int, reason: str | None
) -> AccessGrant:
    require_signed_in(principal)
    errors = Collector()
    text = clean_text(errors, "reason", reason, max_len=REASON_MAX)
    errors.raise_if_any()
    grant = await session.scalar(
        select(AccessGrant).where(AccessGrant.id == grant_id).with_for_update()
    )
    if grant is None:
        raise NotFound("access grant", "grantId")
    if not await is_decider(session, principal, grant.dataset_id):
        raise Forbidden("only the dataset's deciders (data stewards, PIs) or an admin revoke")
    if grant.revoked_at is not None:
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_REVOKED, "the grant is revoked already", "grantId"
        )
    grant.revoked_at = utcnow()
    grant.revoked_by = principal.account_id
    grant.revoke_reason = text
    await session.flush()
    await announce(session, principal, REVOKED, grant, reason=text)
    return grant
