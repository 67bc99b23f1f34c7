"""Who decides an access request, as SQL over the request's dataset, written once for the
decision itself (decisions; service tells the deciders of a new request) and for the list of
requests awaiting a caller (queries).

The project's principal investigators (the Japanese PI, the partner PI) and the owner
institution's data stewards decide. Partner-country data under a bilateral agreement
(`datasets.partner_country_data`, fixed on the request as `dual`) needs two approvals: the
Japanese lead's (the Japanese PI, or a data steward of the project's Japanese lead
institution) and the partner lead's (likewise); the owner's steward has no side of its own
there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    and_,
    exists,
    false,
    not_,
    or_,
    select,
    true,
    union,
)

from server.access.auth import Principal
from server.models import Account, Dataset, ProjectInstitution, ProjectMember
from server.models.enums import AccountRole, ApprovalSide, InstitutionRole, MemberRole

PI_OF = {ApprovalSide.JAPANESE: MemberRole.JAPANESE_PI, ApprovalSide.PARTNER: MemberRole.PARTNER_PI}
LEAD_OF = {
    ApprovalSide.JAPANESE: InstitutionRole.JAPANESE_LEAD,
    ApprovalSide.PARTNER: InstitutionRole.PARTNER_LEAD,
}
DUAL_SIDES = (ApprovalSide.JAPANESE, ApprovalSide.PARTNER)


def steward_institution(principal: Principal) -> int | None:
    """The institution a data steward decides for (the account's), else None."""
    if principal.has_role(AccountRole.DATA_STEWARD):
        return principal.institution_id
    return None


def side_rule(
    principal: Principal, side: ApprovalSide, dual: Any, dataset: Any = Dataset
) -> ColumnElement[bool]:
    """The principal may approve or deny on `side` for a request on `dataset` (correlated)
    needing dual approval or not (`dual`: a boolean SQL expression, or the request's
    column)."""
    steward = steward_institution(principal)
    if side == ApprovalSide.OWNER:
        if steward is None:
            return false()
        return and_(not_(dual), dataset.owner_institution_id == steward)
    clauses: list[ColumnElement[bool]] = []
    if principal.researcher_id is not None:
        clauses.append(
            exists()
            .where(
                ProjectMember.project_id == dataset.project_id,
                ProjectMember.researcher_id == principal.researcher_id,
                ProjectMember.role == PI_OF[side],
            )
            .correlate(dataset)
        )
    if steward is not None:
        lead = (
            exists()
            .where(
                ProjectInstitution.project_id == dataset.project_id,
                ProjectInstitution.institution_id == steward,
                ProjectInstitution.role == LEAD_OF[side],
            )
            .correlate(dataset)
        )
        clauses.append(and_(dual, lead))
    return or_(*clauses) if clauses else false()


def decider_rule(principal: Principal, dataset: Any = Dataset) -> ColumnElement[bool]:
    """The principal decides some requests on the dataset (either kind): who sees its
    requests and grants, revokes them and sets its terms. Admins too."""
    if principal.is_admin:
        return true()
    return or_(
        *(
            side_rule(principal, side, dual, dataset)
            for side in ApprovalSide
            for dual in (true(), false())
        )
    )


def decider_accounts(dataset: Dataset, dual: bool) -> CompoundSelect[tuple[int]]:
    """The accounts that decide a request on `dataset` (told of it when it is made): the
    project's PIs' accounts, and the data stewards of the owner institution (one approval)
    or of the project's Japanese and partner lead institutions (dual approval)."""
    pis = (
        select(Account.id)
        .join(ProjectMember, ProjectMember.researcher_id == Account.researcher_id)
        .where(
            ProjectMember.project_id == dataset.project_id,
            ProjectMember.role.in_(list(PI_OF.values())),
        )
    )
    stewards = select(Account.id).where(Account.role == AccountRole.DATA_STEWARD)
    if dual:
        stewards = stewards.join(
            ProjectInstitution, ProjectInstitution.institution_id == Account.institution_id
        ).where(
            ProjectInstitution.project_id == dataset.project_id,
            ProjectInstitution.role.in_(list(LEAD_OF.values())),
        )
    else:
        stewards = stewards.where(Account.institution_id == dataset.owner_institution_id)
    return union(pis, stewards)
