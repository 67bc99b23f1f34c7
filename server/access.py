"""Read rules as SQL filters of the principal, applied inside every query.

Never filter results in Python: a rule lives here once and each query composes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, and_, exists, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Principal
from server.models import Affiliation, Dataset, Project, ProjectInstitution, ProjectMember
from server.models.enums import AccessLevel, ProjectPhase

# Before approval a project is a proposal under negotiation between governments:
# only staff and the people and institutions named in it may see it.
PUBLIC_PHASES = (
    ProjectPhase.APPROVED,
    ProjectPhase.PLANNING,
    ProjectPhase.IMPLEMENTATION,
    ProjectPhase.COMPLETED,
    ProjectPhase.FOLLOW_UP,
    ProjectPhase.EX_POST_EVALUATED,
)


def project_visible(principal: Principal) -> ColumnElement[bool]:
    if principal.is_staff:
        return true()
    clauses: list[ColumnElement[bool]] = [Project.phase.in_(PUBLIC_PHASES)]
    if principal.researcher_id is not None:
        clauses.append(
            exists().where(
                ProjectMember.project_id == Project.id,
                ProjectMember.researcher_id == principal.researcher_id,
            )
        )
    institution_ids = _principal_institutions(principal)
    if institution_ids is not None:
        clauses.append(
            exists().where(
                ProjectInstitution.project_id == Project.id,
                ProjectInstitution.institution_id.in_(institution_ids),
            )
        )
    return or_(*clauses)


def _principal_institutions(principal: Principal) -> Select[Any] | None:
    """The institutions a principal acts for: the account's and the researcher's current."""
    selects: list[Select[Any]] = []
    if principal.institution_id is not None:
        selects.append(select(literal(principal.institution_id, type_=Integer)))
    if principal.researcher_id is not None:
        selects.append(
            select(Affiliation.institution_id).where(
                Affiliation.researcher_id == principal.researcher_id, Affiliation.end_date.is_(None)
            )
        )
    if not selects:
        return None
    return selects[0] if len(selects) == 1 else select(selects[0].union(*selects[1:]).subquery())


async def visible_by_id(
    session: AsyncSession, principal: Principal, model: Any, ids: Sequence[int]
) -> dict[int, Any]:
    """Rows of a project-owned table by id, only those whose project the caller may see."""
    rows = await session.scalars(
        select(model)
        .join(Project, Project.id == model.project_id)
        .where(model.id.in_(ids), project_visible(principal))
    )
    return {row.id: row for row in rows}


def dataset_visible(principal: Principal, today: dt.date | None = None) -> ColumnElement[bool]:
    """Datasets the principal may see: the project must be visible, and then the access level.

    public: anyone; embargoed: anyone after the date, before it the project's members and the
    owner institution's people; project: members of the project; institution: people of the
    owner institution. Staff see every dataset's metadata (issue 6 refines file access).
    """

    if principal.is_staff:
        return true()
    day = today or dt.datetime.now(dt.UTC).date()
    open_now = or_(
        Dataset.access_level == AccessLevel.PUBLIC,
        and_(Dataset.access_level == AccessLevel.EMBARGOED, Dataset.embargo_until <= day),
    )
    clauses: list[ColumnElement[bool]] = [open_now]
    if principal.researcher_id is not None:
        clauses.append(
            and_(
                Dataset.access_level.in_((AccessLevel.PROJECT, AccessLevel.EMBARGOED)),
                exists().where(
                    ProjectMember.project_id == Dataset.project_id,
                    ProjectMember.researcher_id == principal.researcher_id,
                ),
            )
        )
    institution_ids = _principal_institutions(principal)
    if institution_ids is not None:
        clauses.append(
            and_(
                Dataset.access_level.in_((AccessLevel.INSTITUTION, AccessLevel.EMBARGOED)),
                Dataset.owner_institution_id.in_(institution_ids),
            )
        )
    return and_(
        exists().where(Project.id == Dataset.project_id, project_visible(principal)),
        or_(*clauses),
    )


def email_visible(principal: Principal) -> bool:
    """Researchers' e-mail addresses are for signed-in users of the programme only."""
    return principal.is_authenticated
