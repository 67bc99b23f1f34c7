"""The projects in scope: what the principal may see that matches the filter, and the
groups of a dimension each falls in; the SQL helpers the other modules share."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Integer, and_, cast, func, literal, or_, select
from sqlalchemy.orm import aliased

from server.access.auth import Principal
from server.access.visibility import dataset_level_visible, project_visible
from server.analytics.errors import AnalyticsErrorCode
from server.core.errors import Collector
from server.models import Dataset, Project, ProjectCountry, ProjectTheme, Theme, ThemeSdg
from server.models.enums import AccountRole, InstitutionRole, ProjectPhase

Dimension = Literal["total", "theme", "country", "phase", "year", "sdg"]


@dataclass
class StatsFilter:
    themes: list[int] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    phases: list[ProjectPhase] = field(default_factory=list)
    years: list[int] = field(default_factory=list)


MAX_FILTER_ITEMS = 100
JAPAN_ROLES = (InstitutionRole.JAPANESE_LEAD, InstitutionRole.JAPANESE_PARTICIPANT)
PARTNER_ROLES = (InstitutionRole.PARTNER_LEAD, InstitutionRole.PARTNER_PARTICIPANT)

# The two views the cube keeps unfiltered figures for (cube.py).
ADMIN = Principal(role=AccountRole.ADMIN)
PUBLIC = Principal()  # anonymous: whose rules every principal that sees_as_public shares


def check_filter(flt: StatsFilter) -> StatsFilter:
    """The filter with countries upper-cased, or INVALID_FILTER naming what is wrong."""
    errors = Collector()
    for name in ("themes", "countries", "phases", "years"):
        if len(getattr(flt, name)) > MAX_FILTER_ITEMS:
            errors.add(
                AnalyticsErrorCode.INVALID_FILTER,
                f"at most {MAX_FILTER_ITEMS} {name} in one filter",
                name,
            )
    countries = [c.strip().upper() for c in flt.countries]
    for code in countries:
        if not (len(code) == 2 and code.isascii() and code.isalpha()):
            errors.add(
                AnalyticsErrorCode.INVALID_FILTER,
                f"{code!r} is not an ISO 3166-1 alpha-2 code",
                "countries",
            )
    for year in flt.years:
        if not 1900 <= year <= 2200:
            errors.add(
                AnalyticsErrorCode.INVALID_FILTER,
                f"{year} is not a year between 1900 and 2200",
                "years",
            )
    errors.raise_if_any()
    return StatsFilter(list(flt.themes), countries, list(flt.phases), list(flt.years))


def _ancestors(name: str) -> Any:
    """(theme_id, ancestor_id) for every theme and each of its ancestors, itself included."""
    anc = select(Theme.id.label("theme_id"), Theme.id.label("ancestor_id")).cte(
        name, recursive=True
    )
    parent = aliased(Theme)
    return anc.union_all(
        select(anc.c.theme_id, parent.parent_id)
        .join(parent, parent.id == anc.c.ancestor_id)
        .where(parent.parent_id.is_not(None))
    )


def projects_in_scope(principal: Principal, flt: StatsFilter) -> Any:
    """The projects the principal may see that match the filter: (pid, phase, start_date)."""
    stmt = select(
        Project.id.label("pid"), Project.phase.label("phase"), Project.start_date.label("start")
    ).where(project_visible(principal))
    if flt.themes:
        anc = _ancestors("filter_ancestors")
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectTheme.project_id)
                .join(anc, anc.c.theme_id == ProjectTheme.theme_id)
                .where(anc.c.ancestor_id.in_(flt.themes))
            )
        )
    if flt.countries:
        stmt = stmt.where(
            Project.id.in_(
                select(ProjectCountry.project_id).where(
                    ProjectCountry.country_code.in_(flt.countries)
                )
            )
        )
    if flt.phases:
        stmt = stmt.where(Project.phase.in_(flt.phases))
    if flt.years:
        stmt = stmt.where(
            or_(
                *(
                    and_(
                        Project.start_date >= dt.date(y, 1, 1),
                        Project.start_date < dt.date(y + 1, 1, 1),
                    )
                    for y in flt.years
                )
            )
        )
    return stmt.subquery("scope")


def year_of(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return cast(func.strftime("%Y", column), Integer)
    return cast(func.extract("year", column), Integer)


def month_of(column: Any, dialect: str) -> Any:
    """'YYYY-MM' of a date or timestamp."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def days_between(start: Any, end: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return end - start


def group_keys(scope: Any, dimension: Dimension, dialect: str) -> Any:
    """(pid, key) pairs, distinct: which group(s) each project in scope falls in."""
    if dimension == "total":
        stmt = select(scope.c.pid, literal(0).label("key"))
    elif dimension == "phase":
        stmt = select(scope.c.pid, scope.c.phase.label("key"))
    elif dimension == "year":
        stmt = select(scope.c.pid, year_of(scope.c.start, dialect).label("key")).where(
            scope.c.start.is_not(None)
        )
    elif dimension == "country":
        stmt = select(scope.c.pid, ProjectCountry.country_code.label("key")).join(
            ProjectCountry, ProjectCountry.project_id == scope.c.pid
        )
    else:
        anc = _ancestors("theme_ancestors")
        by_theme = (
            select(scope.c.pid, anc.c.ancestor_id.label("key"))
            .join(ProjectTheme, ProjectTheme.project_id == scope.c.pid)
            .join(anc, anc.c.theme_id == ProjectTheme.theme_id)
        )
        if dimension == "sdg":
            themed = by_theme.subquery("themed")
            stmt = select(themed.c.pid, ThemeSdg.sdg.label("key")).join(
                ThemeSdg, ThemeSdg.theme_id == themed.c.key
            )
        else:
            stmt = by_theme
    return stmt.distinct().subquery("keys")


def visible_datasets(principal: Principal, keys: Any) -> Any:
    """(key, did): the datasets the principal may see of the projects in `keys` (which
    already holds only projects the principal may see)."""
    return (
        select(keys.c.key, Dataset.id.label("did"))
        .join(Dataset, Dataset.project_id == keys.c.pid)
        .where(dataset_level_visible(principal))
    )
