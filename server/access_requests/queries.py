"""Reads of access requests, approvals, grants and agreements, each kept in SQL to what the
caller may see: the requester their own; the deciders (rules.py) those of their datasets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access_requests.rules import DUAL_SIDES, decider_rule, side_rule
from server.core.db import group_rows, utcnow
from server.models import (
    AccessApproval,
    AccessGrant,
    AccessRequest,
    AgreementAcceptance,
    Dataset,
    DataUseAgreement,
)
from server.models.enums import AccessRequestStatus, ApprovalSide


def _mine(principal: Principal, rows: Any) -> ColumnElement[bool]:
    if principal.researcher_id is None:
        return false()
    mine: ColumnElement[bool] = rows.researcher_id == principal.researcher_id
    return mine


def request_visible(principal: Principal) -> ColumnElement[bool]:
    """Requests the principal may see (AccessRequest joined to its Dataset)."""
    if not principal.is_authenticated:
        return false()
    return or_(_mine(principal, AccessRequest), decider_rule(principal))


def my_requests(principal: Principal) -> Select[Any]:
    if not principal.is_authenticated:
        return select(AccessRequest).where(false())
    return select(AccessRequest).where(_mine(principal, AccessRequest))


def awaiting(principal: Principal, now: dt.datetime | None = None) -> Select[Any]:
    """Open requests (pending, not expired) on which the principal decides a side still
    needed, not their own, and which they have not approved yet."""
    if not principal.is_authenticated:
        return select(AccessRequest).where(false())
    moment = now or utcnow()
    dual = AccessRequest.dual

    def approved(side: ApprovalSide) -> ColumnElement[bool]:
        return exists().where(
            AccessApproval.request_id == AccessRequest.id, AccessApproval.side == side
        )

    single = and_(not_(dual), or_(*(side_rule(principal, side, dual) for side in ApprovalSide)))
    two = and_(
        dual,
        or_(*(and_(side_rule(principal, side, dual), not_(approved(side))) for side in DUAL_SIDES)),
    )
    mine = _mine(principal, AccessRequest)
    by_me = exists().where(
        AccessApproval.request_id == AccessRequest.id,
        AccessApproval.account_id == principal.account_id,
    )
    return (
        select(AccessRequest)
        .join(Dataset, Dataset.id == AccessRequest.dataset_id)
        .where(
            AccessRequest.status == AccessRequestStatus.PENDING,
            AccessRequest.expires_at > moment,
            or_(single, two),
            not_(mine),
            not_(by_me),
        )
    )


async def requests_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, AccessRequest]:
    rows = await session.scalars(
        select(AccessRequest)
        .join(Dataset, Dataset.id == AccessRequest.dataset_id)
        .where(AccessRequest.id.in_(ids), request_visible(principal))
    )
    return {row.id: row for row in rows}


async def approvals_by_request(
    session: AsyncSession, request_ids: Sequence[int]
) -> dict[int, list[AccessApproval]]:
    rows = await session.execute(
        select(AccessApproval.request_id, AccessApproval)
        .where(AccessApproval.request_id.in_(request_ids))
        .order_by(AccessApproval.id)
    )
    return group_rows(rows)


async def grants_by_request(
    session: AsyncSession, request_ids: Sequence[int]
) -> dict[int, AccessGrant]:
    rows = await session.scalars(select(AccessGrant).where(AccessGrant.request_id.in_(request_ids)))
    return {row.request_id: row for row in rows}


def grant_visible(principal: Principal) -> ColumnElement[bool]:
    """Grants the principal may see (AccessGrant joined to its Dataset): their own, and
    those of the datasets they decide on; staff see all."""
    if principal.is_staff:
        return true()
    if not principal.is_authenticated:
        return false()
    return or_(_mine(principal, AccessGrant), decider_rule(principal))


async def grants_by_dataset(
    session: AsyncSession, principal: Principal, dataset_ids: Sequence[int]
) -> dict[int, list[AccessGrant]]:
    rows = await session.execute(
        select(AccessGrant.dataset_id, AccessGrant)
        .join(Dataset, Dataset.id == AccessGrant.dataset_id)
        .where(AccessGrant.dataset_id.in_(dataset_ids), grant_visible(principal))
        .order_by(AccessGrant.id)
    )
    return group_rows(rows)


async def agreements_by_dataset(
    session: AsyncSession, dataset_ids: Sequence[int]
) -> dict[int, list[DataUseAgreement]]:
    """Every version of each dataset's agreement, newest first (the first is current)."""
    rows = await session.execute(
        select(DataUseAgreement.dataset_id, DataUseAgreement)
        .where(DataUseAgreement.dataset_id.in_(dataset_ids))
        .order_by(DataUseAgreement.version.desc())
    )
    return group_rows(rows)


def _acceptance_visible(principal: Principal) -> ColumnElement[bool]:
    if principal.is_staff:
        return true()
    if not principal.is_authenticated:
        return false()
    return or_(_mine(principal, AgreementAcceptance), decider_rule(principal))


async def acceptances_by_agreement(
    session: AsyncSession, principal: Principal, agreement_ids: Sequence[int]
) -> dict[int, list[AgreementAcceptance]]:
    """Who accepted each agreement version: the caller's own, and all of them for those who
    decide on the dataset."""
    rows = await session.execute(
        select(AgreementAcceptance.agreement_id, AgreementAcceptance)
        .join(DataUseAgreement, DataUseAgreement.id == AgreementAcceptance.agreement_id)
        .join(Dataset, Dataset.id == DataUseAgreement.dataset_id)
        .where(
            AgreementAcceptance.agreement_id.in_(agreement_ids),
            _acceptance_visible(principal),
        )
        .order_by(AgreementAcceptance.id)
    )
    return group_rows(rows)
