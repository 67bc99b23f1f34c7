"""Figures per group of a dimension: projects, institutions and researchers read live, the
rest from the materialised stats_* tables or, unfiltered, from the cube (cube.py)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import (
    beyond_level_rule,
    level_rule_on,
    project_visible,
    sees_as_public,
)
from server.analytics.scope import (
    JAPAN_ROLES,
    PARTNER_ROLES,
    PUBLIC,
    Dimension,
    StatsFilter,
    check_filter,
    group_keys,
    projects_in_scope,
)
from server.models import (
    Dataset,
    Project,
    ProjectInstitution,
    ProjectMember,
    StatsCube,
    StatsDataset,
    StatsDatasetBucket,
    StatsProject,
    StatsProjectEquipment,
    StatsProjectOrigin,
    StatsProjectRating,
    StatsPublicProject,
)
from server.models.enums import DacRating, InstitutionRole, ProjectPhase


@dataclass
class Figures:
    projects: int = 0
    institutions: int = 0
    japanese_institutions: int = 0
    partner_institutions: int = 0
    third_country_institutions: int = 0
    researchers: int = 0
    expert_dispatches: int = 0
    expert_person_months: float = 0.0
    experts_by_origin: dict[str, tuple[int, float]] = field(default_factory=dict)
    training_participants: int = 0
    # per ISO 4217 currency, never added across currencies (no rate table: not converted)
    equipment_values: dict[str, Decimal] = field(default_factory=dict)
    indicators: int = 0
    indicators_on_track: int = 0
    evaluations: int = 0
    ratings: dict[tuple[str, DacRating], int] = field(default_factory=lambda: defaultdict(int))
    datasets: int = 0
    versions: int = 0
    bytes_stored: int = 0
    uploads_ready: int = 0
    uploads_failed: int = 0


Step = Any  # what a step fills in: the Figures of each group key


def cents(value: Any) -> Decimal:
    """A summed NUMERIC(18, 2) (SQLite's SUM answers a float) as an exact Decimal."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


async def figures(
    session: AsyncSession, principal: Principal, flt: StatsFilter, dimension: Dimension
) -> dict[Any, Figures]:
    """Figures per group of the dimension ("total": one group, key None). Projects,
    institutions, researchers and what the caller may see are read live; the cooperation
    and dataset figures come from the materialised stats_* tables (refresh_stats).

    Without a filter, staff read every figure as of the refresh (the cube); so does the
    public, but for its datasets (read live), and only while the projects it may see are
    exactly those it could see at the refresh: who may see what never lags."""
    flt = check_filter(flt)
    if flt == StatsFilter():
        if principal.is_staff:
            cached = await _from_cube(session, dimension)
        elif sees_as_public(principal):
            cached = await _from_public_cube(session, principal, dimension)
        else:
            cached = None
        if cached is not None:
            return cached
    return await live_figures(session, principal, flt, dimension)


async def live_figures(
    session: AsyncSession,
    principal: Principal,
    flt: StatsFilter,
    dimension: Dimension,
    *,
    datasets: bool = True,
) -> dict[Any, Figures]:
    dialect = session.get_bind().dialect.name
    keys = group_keys(projects_in_scope(principal, flt), dimension, dialect)
    out: dict[Any, Figures] = defaultdict(Figures)
    steps = [_project_sums, _equipment_values, _origins, _ratings, _institutions, _researchers]
    if datasets and not principal.is_staff:  # staff see every dataset's metadata: the sums
        steps.append(_visible_dataset_sums)
    for step in steps:
        await step(session, principal, keys, out, dialect)
    return _groups(out, dimension)


def _groups(out: dict[Any, Figures], dimension: Dimension) -> dict[Any, Figures]:
    if dimension == "total":
        return {None: out.get(0, Figures())}
    return {k: v for k, v in out.items() if v.projects}


DIMENSIONS: tuple[Dimension, ...] = ("total", "theme", "country", "phase", "year", "sdg")
_KEY_TYPES: dict[str, Any] = {
    "total": lambda _: None,
    "theme": int,
    "country": str,
    "phase": ProjectPhase,
    "year": int,
    "sdg": int,
}


def figures_json(f: Figures) -> dict[str, Any]:
    data = {k: v for k, v in vars(f).items() if k not in ("experts_by_origin", "ratings")}
    data["equipment_values"] = [[c, str(v)] for c, v in sorted(f.equipment_values.items())]
    data["experts_by_origin"] = [[c, n, pm] for c, (n, pm) in f.experts_by_origin.items()]
    data["ratings"] = [[c, r.value, n] for (c, r), n in f.ratings.items()]
    return data


def _from_json(data: dict[str, Any]) -> Figures:
    values = dict(data)
    values["equipment_values"] = {c: Decimal(v) for c, v in values["equipment_values"]}
    values["experts_by_origin"] = {c: (n, pm) for c, n, pm in values["experts_by_origin"]}
    ratings: dict[tuple[str, DacRating], int] = defaultdict(int)
    for c, r, n in values["ratings"]:
        ratings[(c, DacRating(r))] = n
    values["ratings"] = ratings
    return Figures(**values)


async def _from_cube(session: AsyncSession, dimension: Dimension) -> dict[Any, Figures] | None:
    """The staff's unfiltered figures as of the last refresh; None before the first one."""
    rows = (
        await session.execute(
            select(StatsCube.key, StatsCube.figures).where(StatsCube.dimension == dimension)
        )
    ).all()
    if not rows:
        return None
    convert = _KEY_TYPES[dimension]
    return {convert(key): _from_json(data) for key, data in rows}


def _public_changed() -> Any:
    """Whether the projects the public may see are no longer those of the last refresh: one
    became visible (or was created), or one seen then is no longer visible (or is gone)."""
    snapshot = StatsPublicProject
    visible = project_visible(PUBLIC)
    appeared = (
        select(Project.id)
        .outerjoin(snapshot, snapshot.project_id == Project.id)
        .where(visible, snapshot.project_id.is_(None))
    )
    vanished = (
        select(snapshot.project_id)
        .outerjoin(Project, Project.id == snapshot.project_id)
        .where(or_(Project.id.is_(None), not_(visible)))
    )
    return or_(appeared.exists(), vanished.exists())


async def _from_public_cube(
    session: AsyncSession, principal: Principal, dimension: Dimension
) -> dict[Any, Figures] | None:
    """The public's unfiltered figures: the refresh's but for the datasets, which are summed
    live over the buckets the principal may see; None before the first refresh or when the
    public's projects changed since (the live queries answer then)."""
    rows = (
        await session.execute(
            select(StatsCube.key, StatsCube.figures).where(
                StatsCube.dimension == f"public/{dimension}", not_(_public_changed())
            )
        )
    ).all()
    if not rows:
        return None
    convert = _KEY_TYPES[dimension]
    out: dict[Any, Figures] = defaultdict(Figures)
    for key, data in rows:
        out[0 if dimension == "total" else convert(key)] = _from_json(data)
    dialect = session.get_bind().dialect.name
    keys = group_keys(projects_in_scope(principal, StatsFilter()), dimension, dialect)
    await _visible_dataset_sums(session, principal, keys, out, dialect)
    return _groups(out, dimension)


async def _project_sums(
    session: AsyncSession, principal: Principal, keys: Any, out: Step, _d: str
) -> None:
    sp = StatsProject
    columns = [
        sp.dispatches,
        sp.dispatch_days,
        sp.participants,
        sp.indicators,
        sp.indicators_on_track,
        sp.evaluations,
    ]
    datasets = [sp.datasets, sp.versions, sp.bytes_stored, sp.uploads_ready, sp.uploads_failed]
    if principal.is_staff:
        columns += datasets
    stmt = (
        select(keys.c.key, func.count(), *(func.coalesce(func.sum(c), 0) for c in columns))
        .outerjoin(sp, sp.project_id == keys.c.pid)
        .group_by(keys.c.key)
    )
    for key, n, *sums in await session.execute(stmt):
        f = out[key]
        f.projects = n
        f.expert_dispatches, days, f.training_participants = int(sums[0]), sums[1], int(sums[2])
        f.expert_person_months = float(days) / 30
        f.indicators, f.indicators_on_track, f.evaluations = map(int, sums[3:6])
        if principal.is_staff:
            f.datasets, f.versions, f.bytes_stored, f.uploads_ready, f.uploads_failed = map(
                int, sums[6:11]
            )


async def _equipment_values(
    session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str
) -> None:
    e = StatsProjectEquipment
    stmt = (
        select(keys.c.key, e.currency, func.sum(e.value))
        .join(e, e.project_id == keys.c.pid)
        .group_by(keys.c.key, e.currency)
    )
    for key, currency, value in await session.execute(stmt):
        out[key].equipment_values[currency] = cents(value)


async def _origins(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    o = StatsProjectOrigin
    stmt = (
        select(keys.c.key, o.origin_country, func.sum(o.dispatches), func.sum(o.days))
        .join(o, o.project_id == keys.c.pid)
        .group_by(keys.c.key, o.origin_country)
    )
    for key, origin, n, days in await session.execute(stmt):
        out[key].experts_by_origin[origin] = (int(n), float(days) / 30)


async def _ratings(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    r = StatsProjectRating
    stmt = (
        select(keys.c.key, r.criterion, r.rating, func.sum(r.count))
        .join(r, r.project_id == keys.c.pid)
        .group_by(keys.c.key, r.criterion, r.rating)
    )
    for key, criterion, rating, n in await session.execute(stmt):
        out[key].ratings[(criterion, DacRating(rating))] = int(n)


async def _visible_dataset_sums(
    session: AsyncSession, principal: Principal, keys: Any, out: Step, _d: str
) -> None:
    """Datasets the principal may see: the buckets whose level lets them in (public,
    embargo passed, member of the project), then those they see only as people of the
    owner institution or through an access grant, one by one."""
    b = StatsDatasetBucket
    sums = [b.datasets, b.versions, b.bytes_stored, b.uploads_ready, b.uploads_failed]
    by_level = (
        select(keys.c.key, *(func.sum(c) for c in sums))
        .join(b, b.project_id == keys.c.pid)
        .where(level_rule_on(principal, b, b))
        .group_by(keys.c.key)
    )
    statements = [by_level]
    owner = beyond_level_rule(principal, Dataset)
    if owner is not None:
        sd = StatsDataset
        statements.append(
            select(
                keys.c.key,
                func.count(),
                *(
                    func.coalesce(func.sum(c), 0)
                    for c in (sd.versions, sd.bytes_stored, sd.uploads_ready, sd.uploads_failed)
                ),
            )
            .join(Dataset, Dataset.project_id == keys.c.pid)
            .outerjoin(sd, sd.dataset_id == Dataset.id)
            .where(owner, not_(level_rule_on(principal, Dataset, Dataset)))
            .group_by(keys.c.key)
        )
    for stmt in statements:
        for key, n, versions, size, ready, failed in await session.execute(stmt):
            f = out[key]
            f.datasets += int(n or 0)
            f.versions += int(versions or 0)
            f.bytes_stored += int(size or 0)
            f.uploads_ready += int(ready or 0)
            f.uploads_failed += int(failed or 0)


async def _institutions(
    session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str
) -> None:
    pi = ProjectInstitution
    per_institution = (
        select(
            keys.c.key,
            pi.institution_id,
            func.max(case((pi.role.in_(JAPAN_ROLES), 1), else_=0)).label("japan"),
            func.max(case((pi.role.in_(PARTNER_ROLES), 1), else_=0)).label("partner"),
            func.max(case((pi.role == InstitutionRole.THIRD_COUNTRY, 1), else_=0)).label("third"),
        )
        .join(pi, pi.project_id == keys.c.pid)
        .group_by(keys.c.key, pi.institution_id)
        .subquery("per_institution")
    )
    c = per_institution.c
    stmt = select(
        c.key, func.count(), func.sum(c.japan), func.sum(c.partner), func.sum(c.third)
    ).group_by(c.key)
    for key, total, japan, partner, third in await session.execute(stmt):
        f = out[key]
        f.institutions, f.japanese_institutions = total, int(japan)
        f.partner_institutions, f.third_country_institutions = int(partner), int(third)


async def _researchers(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    pairs = (
        select(keys.c.key, ProjectMember.researcher_id)
        .join(ProjectMember, ProjectMember.project_id == keys.c.pid)
        .distinct()
        .subquery("pairs")
    )
    stmt = select(pairs.c.key, func.count()).group_by(pairs.c.key)
    for key, n in await session.execute(stmt):
        out[key].researchers = n
