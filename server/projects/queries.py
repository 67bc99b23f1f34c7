"""SATREPS joint research projects, the reads: the filters and statements of the list, the
compiled path and the dataloaders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible
from server.core.db import group_rows
from server.core.validation import year_bounds
from server.models import (
    Account,
    Country,
    Institution,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    Researcher,
    Theme,
)
from server.models.enums import ProjectPhase
from server.themes.queries import theme_subtree, theme_subtree_ids


@dataclass
class ProjectFilter:
    theme_id: int | None = None
    country: str | None = None
    phase: ProjectPhase | None = None
    institution_id: int | None = None
    year: int | None = None


async def in_theme(session: AsyncSession, theme_id: int) -> ColumnElement[bool]:
    """Projects tagged with the theme or any of its sub-themes."""
    return tagged_with(await theme_subtree_ids(session, theme_id))


def in_theme_tree(theme_id: int) -> ColumnElement[bool]:
    """`in_theme` as one clause: the sub-themes are found by the statement itself."""
    return tagged_with(theme_subtree(theme_id))


def tagged_with(themes: Any) -> ColumnElement[bool]:
    """Projects tagged with one of `themes` (ids, or a select of them)."""
    return Project.id.in_(select(ProjectTheme.project_id).where(ProjectTheme.theme_id.in_(themes)))


def in_partner_country(country: str) -> ColumnElement[bool]:
    """Projects with this partner country."""
    return Project.id.in_(
        select(ProjectCountry.project_id).where(
            ProjectCountry.country_code == country.strip().upper()
        )
    )


async def projects_query(
    session: AsyncSession, principal: Principal, flt: ProjectFilter | None
) -> Select[Any]:
    themed = None
    if flt is not None and flt.theme_id is not None:
        themed = await in_theme(session, flt.theme_id)
    return projects_filtered(principal, flt, themed)


def projects_filtered(
    principal: Principal, flt: ProjectFilter | None, themed: ColumnElement[bool] | None = None
) -> Select[Any]:
    """The projects the principal may see that match the filter; `themed` is the theme
    filter's clause (`in_theme`, `in_theme_tree`), given when the filter names a theme."""
    stmt = select(Project).where(project_visible(principal))
    if flt is None:
        return stmt
    if themed is not None:
        stmt = stmt.where(themed)
    if flt.country:
        stmt = stmt.where(in_partner_country(flt.country))
    if flt.phase is not None:
        stmt = stmt.where(Project.phase == flt.phase)
    if flt.institution_id is not None:
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectInstitution.project_id).where(
                    ProjectInstitution.institution_id == flt.institution_id
                )
            )
        )
    if flt.year is not None:
        first_day, last_day = year_bounds(flt.year)
        stmt = stmt.where(
            Project.start_date <= last_day,
            or_(Project.end_date.is_(None), Project.end_date >= first_day),
        )
    return stmt


async def projects_by_id(
    session: AsyncSession, principal: Principal, ids: Sequence[int]
) -> dict[int, Project]:
    rows = await session.scalars(
        select(Project).where(Project.id.in_(ids), project_visible(principal))
    )
    return {p.id: p for p in rows}


async def _grouped_projects(
    session: AsyncSession, principal: Principal, key: Any, link: Any, ids: Sequence[int]
) -> dict[int, list[Project]]:
    rows = await session.execute(
        select(key, Project)
        .join(link, link.project_id == Project.id)
        .where(key.in_(ids), project_visible(principal))
        .order_by(Project.id)
    )
    return group_rows(rows)


async def projects_by_theme(
    session: AsyncSession, principal: Principal, theme_ids: Sequence[int]
) -> dict[int, list[Project]]:
    return await _grouped_projects(
        session, principal, ProjectTheme.theme_id, ProjectTheme, theme_ids
    )


async def projects_by_institution(
    session: AsyncSession, principal: Principal, institution_ids: Sequence[int]
) -> dict[int, list[Project]]:
    return await _grouped_projects(
        session, principal, ProjectInstitution.institution_id, ProjectInstitution, institution_ids
    )


async def projects_by_researcher(
    session: AsyncSession, principal: Principal, researcher_ids: Sequence[int]
) -> dict[int, list[Project]]:
    rows = await session.execute(
        select(ProjectMember.researcher_id, Project)
        .join(ProjectMember, ProjectMember.project_id == Project.id)
        .where(ProjectMember.researcher_id.in_(researcher_ids), project_visible(principal))
        .distinct()
        .order_by(ProjectMember.researcher_id, Project.id)
    )
    return group_rows(rows)


async def themes_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[Theme]]:
    rows = await session.execute(
        select(ProjectTheme.project_id, Theme)
        .join(Theme, Theme.id == ProjectTheme.theme_id)
        .where(ProjectTheme.project_id.in_(project_ids))
        .order_by(Theme.id)
    )
    return group_rows(rows)


async def countries_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[Country]]:
    rows = await session.execute(
        select(ProjectCountry.project_id, Country)
        .join(Country, Country.code == ProjectCountry.country_code)
        .where(ProjectCountry.project_id.in_(project_ids))
        .order_by(Country.code)
    )
    return group_rows(rows)


async def institutions_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[tuple[ProjectInstitution, Institution]]]:
    rows = await session.execute(
        select(ProjectInstitution.project_id, ProjectInstitution, Institution)
        .join(Institution, Institution.id == ProjectInstitution.institution_id)
        .where(ProjectInstitution.project_id.in_(project_ids))
        .order_by(ProjectInstitution.id)
    )
    return group_rows(rows)


async def members_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[tuple[ProjectMember, Researcher]]]:
    rows = await session.execute(
        select(ProjectMember.project_id, ProjectMember, Researcher)
        .join(Researcher, Researcher.id == ProjectMember.researcher_id)
        .where(ProjectMember.project_id.in_(project_ids))
        .order_by(ProjectMember.id)
    )
    return group_rows(rows)


async def transitions_by_project(
    session: AsyncSession, project_ids: Sequence[int]
) -> dict[int, list[PhaseTransition]]:
    rows = await session.execute(
        select(PhaseTransition.project_id, PhaseTransition)
        .where(PhaseTransition.project_id.in_(project_ids))
        .order_by(PhaseTransition.id)
    )
    return group_rows(rows)


async def accounts_by_id(session: AsyncSession, account_ids: Sequence[int]) -> dict[int, Account]:
    """The accounts behind phase transitions (who moved a project)."""
    rows = await session.scalars(select(Account).where(Account.id.in_(account_ids)))
    return {row.id: row for row in rows}


async def partner_countries(session: AsyncSession, project_id: int) -> set[str]:
    rows = await session.scalars(
        select(ProjectCountry.country_code).where(ProjectCountry.project_id == project_id)
    )
    return set(rows)


async def completion_date(session: AsyncSession, project: Project) -> dt.date | None:
    """When the project was completed: its end date, else the day it entered `completed`."""
    if project.end_date is not None:
        return project.end_date
    at = await session.scalar(
        select(PhaseTransition.at)
        .where(
            PhaseTransition.project_id == project.id,
            PhaseTransition.to_phase == ProjectPhase.COMPLETED,
        )
        .order_by(PhaseTransition.id.desc())
        .limit(1)
    )
    return at.date() if at is not None else None
