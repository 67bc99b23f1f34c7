"""Access requests and their decisions, grants, data use agreements: the rules, written once
for every face. Services flush; the caller's unit of work commits (one transaction: the
rows, their audit rows and, at merge, their outbox rows).

Expiry is lazy and the database is the truth: a PENDING request past `expires_at` reads as
EXPIRED everywhere (`effective_status`, the queries' SQL) and cannot be decided; `sweep`
(a worker cron) marks such rows EXPIRED and announces the grants about to end."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.access import audit
from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access.visibility import dataset_readable, project_visible
from server.access_requests.errors import AccessRequestErrorCode
from server.access_requests.rules import DUAL_SIDES, decider_accounts, decider_rule, side_rule
from server.core.config import get_settings
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, Forbidden, NotFound
from server.core.validation import clean_text, normalize_country
from server.models import (
    AccessApproval,
    AccessGrant,
    AccessRequest,
    Account,
    AgreementAcceptance,
    Dataset,
    DataUseAgreement,
    Project,
)
from server.models.enums import AccessRequestStatus as Status
from server.models.enums import ApprovalSide
from server.notifications.events import emit
from server.provenance import records
from server.texts.service import TextValue, check_text_field, sent_text, write_texts

PURPOSE_MAX = 4000
REASON_MAX = 4000
IRCC_RE = re.compile(r"^ABSCH-IRCC-([A-Z]{2})-(\d{1,10})-(\d{1,4})$")

# the events this module produces; the notification outbox (issue 24, part B) takes them
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


async def _announce(
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


def _now() -> dt.datetime:
    return utcnow()


def effective_status(request: AccessRequest, now: dt.datetime | None = None) -> Status:
    if request.status == Status.PENDING and request.expires_at <= (now or _now()):
        return Status.EXPIRED
    return request.status


# ---- reads the rules need ----------------------------------------------------------------


async def _reachable_dataset(
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


async def _is_decider(session: AsyncSession, principal: Principal, dataset_id: int) -> bool:
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


async def _accepted(session: AsyncSession, agreement_id: int, researcher_id: int) -> bool:
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


def _require_researcher(principal: Principal) -> int:
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
    dataset = await _reachable_dataset(session, principal, dataset_id)
    researcher_id = _require_researcher(principal)
    now = _now()
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
    await _announce(session, principal, REQUESTED, request, dual=request.dual)
    return request


async def _expire(session: AsyncSession, request: AccessRequest, now: dt.datetime) -> None:
    request.status = Status.EXPIRED
    request.decided_at = request.expires_at
    await _announce(session, None, EXPIRED, request, expiredAt=request.expires_at.isoformat())


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
        if await _is_decider(session, principal, request.dataset_id) or (
            await _sides(session, principal, request.dataset_id, not request.dual)
        ):
            raise Forbidden("your side does not decide this kind of request")
        raise Forbidden(
            "only the owner institution's data stewards or the project's PIs decide requests"
        )
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
    now = _now()
    end = _grant_end(valid_until, now.date())
    agreement = await current_agreement(session, request.dataset_id)
    if agreement is not None and not await _accepted(session, agreement.id, request.researcher_id):
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
        await _announce(session, principal, APPROVAL_RECORDED, request, side=approval.side.value)
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
    await _announce(
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
    request.decided_at = _now()
    request.decided_by = principal.account_id
    request.denial_reason = text
    await session.flush()
    await _announce(session, principal, DENIED, request, reason=text)
    return request


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
    request.status = Status.WITHDRAWN
    request.decided_at = _now()
    await session.flush()
    await _announce(session, principal, WITHDRAWN, request)
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
    if not await _is_decider(session, principal, grant.dataset_id):
        raise Forbidden("only the dataset's deciders (data stewards, PIs) or an admin revoke")
    if grant.revoked_at is not None:
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_REVOKED, "the grant is revoked already", "grantId"
        )
    grant.revoked_at = _now()
    grant.revoked_by = principal.account_id
    grant.revoke_reason = text
    await session.flush()
    await _announce(session, principal, REVOKED, grant, reason=text)
    return grant


# ---- agreements --------------------------------------------------------------------------


@dataclass(frozen=True)
class AbsReferences:
    """The Nagoya Protocol's access and benefit-sharing references of genetic resources."""

    provider_country: str | None = None
    prior_informed_consent: str | None = None
    mutually_agreed_terms: str | None = None
    ircc: str | None = None


def _check_abs(errors: Collector, refs: AbsReferences | None) -> dict[str, str | None]:
    if refs is None:
        return {}
    country = None
    if refs.provider_country is not None and refs.provider_country.strip():
        country = normalize_country(refs.provider_country)
        if country is None:
            errors.add(
                ErrorCode.INVALID_COUNTRY,
                "not an ISO 3166-1 alpha-2 country code",
                "abs.providerCountry",
            )
    ircc = None
    if refs.ircc is not None and refs.ircc.strip():
        ircc = refs.ircc.strip().upper()
        match = IRCC_RE.match(ircc)
        if match is None:
            errors.add(
                AccessRequestErrorCode.INVALID_IRCC,
                "an IRCC identifier reads ABSCH-IRCC-<country>-<number>-<version>,"
                " e.g. ABSCH-IRCC-IN-239750-1",
                "abs.ircc",
            )
        elif country is not None and match.group(1) != country:
            errors.add(
                AccessRequestErrorCode.ABS_COUNTRY_MISMATCH,
                f"the certificate was issued by {match.group(1)}, not by the provider {country}",
                "abs.ircc",
            )
    return {
        "abs_provider_country": country,
        "abs_pic_ref": clean_text(
            errors, "abs.priorInformedConsent", refs.prior_informed_consent, max_len=500
        ),
        "abs_mat_ref": clean_text(
            errors, "abs.mutuallyAgreedTerms", refs.mutually_agreed_terms, max_len=500
        ),
        "abs_ircc": ircc,
    }


async def publish_agreement(
    session: AsyncSession,
    principal: Principal,
    dataset_id: int,
    title: str | None,
    body: str | None,
    abs_refs: AbsReferences | None = None,
    *,
    titles: list[TextValue] | None = None,
) -> DataUseAgreement:
    """A new version of the dataset's data use agreement (the first, or the next): grants
    are usable again once their holders accept it. Its title: one value (the original, in
    `und`) or `titles` in each language."""
    require_signed_in(principal)
    errors = Collector()
    sent = sent_text("title", "titles", title, titles)
    clean_title = check_text_field(
        errors, sent, "title", "titles", max_len=500, required=True, creating=True
    )
    clean_body = clean_text(errors, "body", body, max_len=100_000, required=True)
    abs_values = _check_abs(errors, abs_refs)
    errors.raise_if_any()
    dataset = await _reachable_dataset(session, principal, dataset_id)
    if not await _is_decider(session, principal, dataset.id):
        raise Forbidden("only the dataset's deciders (data stewards, PIs) or an admin set terms")
    latest = await session.scalar(
        select(func.max(DataUseAgreement.version)).where(DataUseAgreement.dataset_id == dataset.id)
    )
    agreement = DataUseAgreement(
        dataset_id=dataset.id,
        version=(latest or 0) + 1,
        title=clean_title.column if clean_title is not None else None,
        body=clean_body,
        created_by=principal.account_id,
        created_at=_now(),
        **abs_values,
    )
    session.add(agreement)
    await session.flush()
    await write_texts(session, "agreement", agreement.id, [clean_title])
    await _announce(session, principal, AGREEMENT_PUBLISHED, agreement, version=agreement.version)
    return agreement


async def accept_agreement(
    session: AsyncSession, principal: Principal, agreement_id: int
) -> AgreementAcceptance:
    """The caller accepts one version of an agreement: the current one only. Recorded in the
    dataset's PROV (an activity using the agreement, associated with the researcher)."""
    require_signed_in(principal)
    agreement = await session.get(DataUseAgreement, agreement_id)
    if agreement is None or not await _may_read_terms(session, principal, agreement.dataset_id):
        raise NotFound("agreement", "agreementId")
    researcher_id = _require_researcher(principal)
    current = await current_agreement(session, agreement.dataset_id)
    if current is not None and current.id != agreement.id:
        raise DomainError.one(
            AccessRequestErrorCode.AGREEMENT_SUPERSEDED,
            f"version {current.version} replaced this one: accept it instead",
            "agreementId",
        )
    if await _accepted(session, agreement.id, researcher_id):
        raise DomainError.one(
            AccessRequestErrorCode.ALREADY_ACCEPTED,
            "you accepted this version already",
            "agreementId",
        )
    acceptance = AgreementAcceptance(
        agreement_id=agreement.id,
        researcher_id=researcher_id,
        account_id=principal.account_id,
        accepted_at=_now(),
    )
    session.add(acceptance)
    await session.flush()
    dataset = await session.get(Dataset, agreement.dataset_id)
    assert dataset is not None  # the agreement's foreign key
    await records.record_agreement_acceptance(session, principal, dataset, agreement, acceptance)
    await _announce(
        session,
        principal,
        AGREEMENT_ACCEPTED,
        agreement,
        version=agreement.version,
        researcherId=researcher_id,
    )
    return acceptance


async def _may_read_terms(session: AsyncSession, principal: Principal, dataset_id: int) -> bool:
    """A dataset's terms are for anyone who may ask for access to it (its project is
    visible): one may accept them before asking."""
    try:
        await _reachable_dataset(session, principal, dataset_id)
    except DomainError:
        return False
    return True


async def set_partner_country_data(
    session: AsyncSession, principal: Principal, dataset_id: int, flag: bool
) -> Dataset:
    """Flag a dataset as partner-country data under a bilateral agreement (requests made
    from now on need the Japanese and the partner lead), or clear the flag."""
    require_signed_in(principal)
    dataset = await _reachable_dataset(session, principal, dataset_id)
    if not await _is_decider(session, principal, dataset.id):
        raise Forbidden("only the dataset's deciders (data stewards, PIs) or an admin do this")
    dataset.partner_country_data = flag
    dataset.updated_at = _now()
    await session.flush()
    return dataset


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
    moment = now or _now()
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
                await _announce(
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
                await _announce(
                    session, None, EXPIRING, grant, validUntil=grant.valid_until.isoformat()
                )
                out.expiring.append(grant.id)
        await session.commit()
    return out
