"""Read rules as SQL filters of the principal, applied inside every query.

Never filter results in Python: a rule lives here once and each query composes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    exists,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.access.auth import Principal
from server.models import (
    AccessGrant,
    Affiliation,
    AgreementAcceptance,
    Dataset,
    DatasetFile,
    DatasetVersion,
    DataUseAgreement,
    Project,
    ProjectInstitution,
    ProjectMember,
)
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


def project_visible(principal: Principal, project: Any = Project) -> ColumnElement[bool]:
    """The projects the principal may see; `project` is the Project entity or an alias of it
    (the compiled read path gives every nesting level its own)."""
    if principal.is_staff:
        return true()
    clauses: list[ColumnElement[bool]] = [project.phase.in_(PUBLIC_PHASES)]
    if principal.researcher_id is not None:
        clauses.append(
            exists()
            .where(
                ProjectMember.project_id == project.id,
                ProjectMember.researcher_id == principal.researcher_id,
            )
            .correlate(project)  # also inside queries that join the link tables
        )
    institution_ids = _principal_institutions(principal)
    if institution_ids is not None:
        clauses.append(
            exists()
            .where(
                ProjectInstitution.project_id == project.id,
                ProjectInstitution.institution_id.in_(institution_ids),
            )
            .correlate(project)
        )
    return or_(*clauses)


def sees_as_public(principal: Principal) -> bool:
    """Whether the principal's rules are the public's: no staff role, no researcher, no
    institution (anonymous, or an account linked to nobody). Such principals may share
    what is computed for the public."""
    return (
        not principal.is_staff
        and principal.researcher_id is None
        and principal.institution_id is None
    )


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


def _level_rules(
    principal: Principal, day: dt.date | None, rows: Any = Dataset
) -> ColumnElement[bool]:
    """The access level's rule, for anyone but an admin:

    public: anyone. embargoed: anyone once the date has come; before it the project's
    members and the owner institution's people. project: the project's members and the
    owner institution's people. institution: the owner institution's people only.
    """
    clauses = [level_rule_on(principal, rows, rows, day)]
    beyond = beyond_level_rule(principal, rows, day)
    if beyond is not None:
        clauses.append(beyond)
    return or_(*clauses)


def level_rule_on(
    principal: Principal, rows: Any, correlate: Any, day: dt.date | None = None
) -> ColumnElement[bool]:
    """The level's rule but the owner's, over any rows with the dataset's access_level,
    embargo_until and project_id (datasets, or aggregates of them such as
    stats_dataset_buckets): public, embargo passed, or a member of the project."""
    today = day or dt.datetime.now(dt.UTC).date()
    clauses: list[ColumnElement[bool]] = [
        rows.access_level == AccessLevel.PUBLIC,
        and_(rows.access_level == AccessLevel.EMBARGOED, rows.embargo_until <= today),
    ]
    if principal.researcher_id is not None:
        clauses.append(
            and_(
                rows.access_level.in_((AccessLevel.PROJECT, AccessLevel.EMBARGOED)),
                exists()
                .where(
                    ProjectMember.project_id == rows.project_id,
                    ProjectMember.researcher_id == principal.researcher_id,
                )
                .correlate(correlate),
            )
        )
    return or_(*clauses)


def owner_rule_on(principal: Principal, rows: Any) -> ColumnElement[bool] | None:
    """The owner institution always reads its own datasets, whatever their level; None
    for a principal who acts for no institution."""
    institution_ids = _principal_institutions(principal)
    if institution_ids is None:
        return None
    rule: ColumnElement[bool] = rows.owner_institution_id.in_(institution_ids)
    return rule


def beyond_level_rule(
    principal: Principal, rows: Any = Dataset, day: dt.date | None = None
) -> ColumnElement[bool] | None:
    """What lets a principal into a dataset whatever its level's rule says: the owner
    institution's people, and the holder of a live access grant. None when neither can
    apply to the principal. `rows`: the Dataset entity or an alias of it."""
    clauses = [
        rule
        for rule in (owner_rule_on(principal, rows), grant_rule_on(principal, rows, day))
        if rule is not None
    ]
    return or_(*clauses) if clauses else None


def grant_rule_on(
    principal: Principal, rows: Any = Dataset, day: dt.date | None = None
) -> ColumnElement[bool] | None:
    """A grant (an approved access request) lets its researcher read the dataset until its
    last day, unless revoked; when the dataset has a data use agreement, only after the
    researcher accepted its current (highest) version. Dates, like embargoes: a compiled
    plan keyed by the day stays right."""
    if principal.researcher_id is None:
        return None
    today = day or dt.datetime.now(dt.UTC).date()
    rid = principal.researcher_id
    granted = (
        exists()
        .where(
            AccessGrant.dataset_id == rows.id,
            AccessGrant.researcher_id == rid,
            AccessGrant.revoked_at.is_(None),
            AccessGrant.valid_until >= today,
        )
        .correlate(rows)
    )
    return and_(granted, not_(_unaccepted_agreement(rid, rows)))


def _unaccepted_agreement(researcher_id: int, rows: Any) -> ColumnElement[bool]:
    """The dataset's current agreement exists and the researcher has not accepted it."""
    newer = aliased(DataUseAgreement)
    current = DataUseAgreement
    return (
        exists()
        .where(
            current.dataset_id == rows.id,
            not_(
                exists().where(
                    newer.dataset_id == current.dataset_id, newer.version > current.version
                )
            ),
            not_(
                exists().where(
                    AgreementAcceptance.agreement_id == current.id,
                    AgreementAcceptance.researcher_id == researcher_id,
                )
            ),
        )
        .correlate(rows)
    )


def dataset_visible(
    principal: Principal, today: dt.date | None = None, dataset: Any = Dataset
) -> ColumnElement[bool]:
    """Datasets whose metadata (title, versions, file names, counts) the principal may see;
    `dataset` is the Dataset entity or an alias of it.

    Staff (admins, program managers) see all metadata; anyone else needs the project to be
    visible and the access level's rule (`_level_rules`) to let them in.
    """
    if principal.is_staff:
        return true()
    return and_(
        exists()
        .where(Project.id == dataset.project_id, project_visible(principal))
        .correlate(dataset),
        _level_rules(principal, today, dataset),
    )


def dataset_level_visible(
    principal: Principal, today: dt.date | None = None
) -> ColumnElement[bool]:
    """`dataset_visible` for a query already kept to the projects the principal may see
    (joined through `project_visible`): the access level's rule alone."""
    if principal.is_staff:
        return true()
    return _level_rules(principal, today)


def dataset_readable(
    principal: Principal, today: dt.date | None = None, dataset: Any = Dataset
) -> ColumnElement[bool]:
    """Datasets whose data (file contents: downloads, previews, profiles) the principal may
    read; `dataset` is the Dataset entity or an alias of it. Admins read everything; a
    program manager reads restricted data only where the level's rule lets them in as
    anyone else (a member of the project or institution)."""
    if principal.is_admin:
        return true()
    return and_(
        exists()
        .where(Project.id == dataset.project_id, project_visible(principal))
        .correlate(dataset),
        _level_rules(principal, today, dataset),
    )


async def readable_file_ids(
    session: AsyncSession, principal: Principal, file_ids: Sequence[int]
) -> dict[int, bool]:
    """{file id: True} for the files whose contents the principal may read."""

    rows = await session.scalars(
        select(DatasetFile.id)
        .join(DatasetVersion, DatasetVersion.id == DatasetFile.version_id)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetFile.id.in_(file_ids), dataset_readable(principal))
    )
    return {file_id: True for file_id in rows}


def email_visible(principal: Principal) -> bool:
    """Researchers' e-mail addresses are for signed-in users of the programme only."""
    return principal.is_authenticated
