"""Programme analytics as SQL over what the principal may see (server/access/visibility.py)."""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    Float,
    Integer,
    Select,
    and_,
    case,
    cast,
    delete,
    distinct,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.access.auth import Principal
from server.access.visibility import (
    dataset_level_visible,
    dataset_visible,
    level_rule_on,
    owner_rule_on,
    project_visible,
    sees_as_public,
)
from server.core.errors import Collector, DomainError
from server.models import (
    Dataset,
    DatasetVersion,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    Indicator,
    IndicatorMeasurement,
    Institution,
    PdmElement,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    StatsCube,
    StatsDataset,
    StatsDatasetBucket,
    StatsProject,
    StatsProjectOrigin,
    StatsProjectRating,
    StatsPublicProject,
    StatsRefresh,
    Theme,
    ThemeSdg,
    TrainingCourse,
    TrainingParticipant,
    Upload,
)
from server.models.enums import (
    AccountRole,
    DacRating,
    InstitutionKind,
    InstitutionRole,
    ProjectPhase,
    UploadState,
)
from server.models.stats import NO_EMBARGO

Dimension = Literal["total", "theme", "country", "phase", "year", "sdg"]


class Side(enum.StrEnum):
    JAPAN = "japan"
    PARTNER = "partner"
    THIRD_COUNTRY = "third_country"


@dataclass
class StatsFilter:
    themes: list[int] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    phases: list[ProjectPhase] = field(default_factory=list)
    years: list[int] = field(default_factory=list)


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
    equipment_value: Decimal = Decimal(0)
    indicators: int = 0
    indicators_on_track: int = 0
    evaluations: int = 0
    ratings: dict[tuple[str, DacRating], int] = field(default_factory=lambda: defaultdict(int))
    datasets: int = 0
    versions: int = 0
    bytes_stored: int = 0
    uploads_ready: int = 0
    uploads_failed: int = 0


@dataclass(frozen=True)
class Cell:
    theme_id: int
    country: str
    projects: int
    datasets: int


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    country: str
    kind: InstitutionKind
    side: Side
    projects: int


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    projects: int
    datasets: int
    japan_partner: bool


@dataclass(frozen=True)
class Network:
    nodes: list[Node]
    edges: list[Edge]


@dataclass(frozen=True)
class Point:
    theme_id: int
    month: dt.date
    projects: int
    datasets: int


# ---- the projects in scope ---------------------------------------------------------------

MAX_FILTER_ITEMS = 100
_JAPAN_ROLES = (InstitutionRole.JAPANESE_LEAD, InstitutionRole.JAPANESE_PARTICIPANT)
_PARTNER_ROLES = (InstitutionRole.PARTNER_LEAD, InstitutionRole.PARTNER_PARTICIPANT)
_CRITERIA = ("relevance", "coherence", "effectiveness", "impact", "efficiency", "sustainability")


def check_filter(flt: StatsFilter) -> StatsFilter:
    """The filter with countries upper-cased, or INVALID_FILTER naming what is wrong."""
    errors = Collector()
    for name in ("themes", "countries", "phases", "years"):
        if len(getattr(flt, name)) > MAX_FILTER_ITEMS:
            errors.add("INVALID_FILTER", f"at most {MAX_FILTER_ITEMS} {name} in one filter", name)
    countries = [c.strip().upper() for c in flt.countries]
    for code in countries:
        if not (len(code) == 2 and code.isascii() and code.isalpha()):
            errors.add("INVALID_FILTER", f"{code!r} is not an ISO 3166-1 alpha-2 code", "countries")
    for year in flt.years:
        if not 1900 <= year <= 2200:
            errors.add("INVALID_FILTER", f"{year} is not a year between 1900 and 2200", "years")
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


def _scope(principal: Principal, flt: StatsFilter) -> Any:
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


def _year(column: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return cast(func.strftime("%Y", column), Integer)
    return cast(func.extract("year", column), Integer)


def _month(column: Any, dialect: str) -> Any:
    """'YYYY-MM' of a date or timestamp."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


def _days(start: Any, end: Any, dialect: str) -> Any:
    if dialect == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return end - start


def _keys(scope: Any, dimension: Dimension, dialect: str) -> Any:
    """(pid, key) pairs, distinct: which group(s) each project in scope falls in."""
    if dimension == "total":
        stmt = select(scope.c.pid, literal(0).label("key"))
    elif dimension == "phase":
        stmt = select(scope.c.pid, scope.c.phase.label("key"))
    elif dimension == "year":
        stmt = select(scope.c.pid, _year(scope.c.start, dialect).label("key")).where(
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


# ---- figures ------------------------------------------------------------------------------


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
    return await _live_figures(session, principal, flt, dimension)


async def _live_figures(
    session: AsyncSession,
    principal: Principal,
    flt: StatsFilter,
    dimension: Dimension,
    *,
    datasets: bool = True,
) -> dict[Any, Figures]:
    dialect = session.get_bind().dialect.name
    keys = _keys(_scope(principal, flt), dimension, dialect)
    out: dict[Any, Figures] = defaultdict(Figures)
    steps = [_project_sums, _origins, _ratings, _institutions, _researchers]
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


def _to_json(f: Figures) -> dict[str, Any]:
    data = {k: v for k, v in vars(f).items() if k not in ("experts_by_origin", "ratings")}
    data["equipment_value"] = str(f.equipment_value)
    data["experts_by_origin"] = [[c, n, pm] for c, (n, pm) in f.experts_by_origin.items()]
    data["ratings"] = [[c, r.value, n] for (c, r), n in f.ratings.items()]
    return data


def _from_json(data: dict[str, Any]) -> Figures:
    values = dict(data)
    values["equipment_value"] = Decimal(values["equipment_value"])
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
    visible = project_visible(_PUBLIC)
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
    keys = _keys(_scope(principal, StatsFilter()), dimension, dialect)
    await _visible_dataset_sums(session, principal, keys, out, dialect)
    return _groups(out, dimension)


async def _build_cube(session: AsyncSession) -> None:
    rows = [
        {"dimension": dimension, "key": str(key), "figures": _to_json(f)}
        for dimension in DIMENSIONS
        for key, f in (await _live_figures(session, _ADMIN, StatsFilter(), dimension)).items()
    ]
    rows += [
        {"dimension": f"public/{dimension}", "key": str(key), "figures": _to_json(f)}
        for dimension in DIMENSIONS
        for key, f in (
            await _live_figures(session, _PUBLIC, StatsFilter(), dimension, datasets=False)
        ).items()
    ]
    network = await _live_network(session, _ADMIN, StatsFilter(), MAX_EDGES)
    rows.append({"dimension": "network", "key": "", "figures": _network_json(network)})
    await session.execute(insert(StatsCube), rows)
    await session.execute(delete(StatsPublicProject))
    await session.execute(
        insert(StatsPublicProject).from_select(
            ["project_id"], select(Project.id).where(project_visible(_PUBLIC))
        )
    )


async def refreshed_at(session: AsyncSession) -> dt.datetime | None:
    return await session.scalar(select(func.max(StatsRefresh.refreshed_at)))


async def _project_sums(
    session: AsyncSession, principal: Principal, keys: Any, out: Step, _d: str
) -> None:
    sp = StatsProject
    columns = [
        sp.dispatches,
        sp.dispatch_days,
        sp.participants,
        sp.equipment_value,
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
        f.equipment_value = Decimal(str(sums[3]))
        f.indicators, f.indicators_on_track, f.evaluations = map(int, sums[4:7])
        if principal.is_staff:
            f.datasets, f.versions, f.bytes_stored, f.uploads_ready, f.uploads_failed = map(
                int, sums[7:12]
            )


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
    owner institution, one by one."""
    b = StatsDatasetBucket
    sums = [b.datasets, b.versions, b.bytes_stored, b.uploads_ready, b.uploads_failed]
    by_level = (
        select(keys.c.key, *(func.sum(c) for c in sums))
        .join(b, b.project_id == keys.c.pid)
        .where(level_rule_on(principal, b, b))
        .group_by(keys.c.key)
    )
    statements = [by_level]
    owner = owner_rule_on(principal, Dataset)
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


# ---- refreshing the materialised figures ----------------------------------------------------

STATS_REFRESH_SECONDS = 60
_ADMIN = Principal(role=AccountRole.ADMIN)
_PUBLIC = Principal()  # anonymous: whose rules every principal that sees_as_public shares


_SOURCES = (
    Project,
    ProjectTheme,
    ProjectCountry,
    ExpertDispatch,
    TrainingParticipant,
    EquipmentItem,
    Indicator,
    IndicatorMeasurement,
    Evaluation,
    Dataset,
    DatasetVersion,
    Upload,
)


async def stats_fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """What the materialised figures were built from, cheaply: row counts and the newest
    change of the source tables. The embedded reconciler rebuilds only when it moves (on
    SQLite every commit may fail a concurrent read-then-write transaction)."""
    parts: list[Any] = [
        select(func.count()).select_from(model).scalar_subquery() for model in _SOURCES
    ]
    parts += [
        select(func.max(model.updated_at)).scalar_subquery() for model in (Project, Dataset, Upload)
    ]
    parts.append(select(func.max(DatasetVersion.published_at)).scalar_subquery())
    parts.append(select(func.count()).select_from(StatsRefresh).scalar_subquery())
    return tuple((await session.execute(select(*parts))).one())


async def refresh_stats(session: AsyncSession) -> None:
    """Rebuild the stats_* tables from the live rows, in the caller's transaction."""
    dialect = session.get_bind().dialect.name
    for model in (StatsProject, StatsProjectOrigin, StatsProjectRating, StatsDataset, StatsCube):
        await session.execute(delete(model))
    await session.execute(insert(StatsDataset).from_select(_DATASET_COLUMNS, _dataset_figures()))
    await session.execute(delete(StatsDatasetBucket))
    await session.execute(insert(StatsDatasetBucket).from_select(_BUCKET_COLUMNS, _buckets()))
    keys = select(Project.id.label("pid"), Project.id.label("key")).subquery("keys")
    out: dict[Any, Figures] = defaultdict(Figures)
    for step in (_experts, _training, _equipment, _indicators, _evaluations):
        await step(session, _ADMIN, keys, out, dialect)
    sd = StatsDataset
    per_project = select(
        sd.project_id,
        func.count(),
        func.sum(sd.versions),
        func.sum(sd.bytes_stored),
        func.sum(sd.uploads_ready),
        func.sum(sd.uploads_failed),
    ).group_by(sd.project_id)
    for pid, n, versions, size, ready, failed in await session.execute(per_project):
        f = out[pid]
        f.datasets, f.versions, f.bytes_stored = n, int(versions), int(size)
        f.uploads_ready, f.uploads_failed = int(ready), int(failed)
    await _store(session, out)
    await session.flush()
    await _build_cube(session)
    await session.execute(delete(StatsRefresh))
    session.add(StatsRefresh(id=1, refreshed_at=dt.datetime.now(dt.UTC)))
    await session.flush()


async def _store(session: AsyncSession, out: dict[Any, Figures]) -> None:
    projects, origins, ratings = [], [], []
    for pid, f in out.items():
        projects.append(
            {
                "project_id": pid,
                "dispatches": f.expert_dispatches,
                "dispatch_days": f.expert_person_months * 30,
                "participants": f.training_participants,
                "equipment_value": f.equipment_value,
                "indicators": f.indicators,
                "indicators_on_track": f.indicators_on_track,
                "evaluations": f.evaluations,
                "datasets": f.datasets,
                "versions": f.versions,
                "bytes_stored": f.bytes_stored,
                "uploads_ready": f.uploads_ready,
                "uploads_failed": f.uploads_failed,
            }
        )
        origins += [
            {"project_id": pid, "origin_country": c, "dispatches": n, "days": months * 30}
            for c, (n, months) in f.experts_by_origin.items()
        ]
        ratings += [
            {"project_id": pid, "criterion": c, "rating": r.value, "count": n}
            for (c, r), n in f.ratings.items()
        ]
    for model, rows in (
        (StatsProject, projects),
        (StatsProjectOrigin, origins),
        (StatsProjectRating, ratings),
    ):
        for i in range(0, len(rows), 5000):
            await session.execute(insert(model), rows[i : i + 5000])


_DATASET_COLUMNS = [
    "dataset_id",
    "project_id",
    "versions",
    "bytes_stored",
    "uploads_ready",
    "uploads_failed",
    "first_published_at",
]


_BUCKET_COLUMNS = [
    "project_id",
    "access_level",
    "embargo_until",
    "datasets",
    "versions",
    "bytes_stored",
    "uploads_ready",
    "uploads_failed",
]


def _buckets() -> Any:
    sd = StatsDataset
    embargo = func.coalesce(Dataset.embargo_until, NO_EMBARGO)
    return (
        select(
            Dataset.project_id,
            Dataset.access_level,
            embargo,
            func.count(),
            *(
                func.coalesce(func.sum(c), 0)
                for c in (sd.versions, sd.bytes_stored, sd.uploads_ready, sd.uploads_failed)
            ),
        )
        .outerjoin(sd, sd.dataset_id == Dataset.id)
        .group_by(Dataset.project_id, Dataset.access_level, embargo)
    )


def _dataset_figures() -> Select[Any]:
    v, u = DatasetVersion, Upload
    versions = (
        select(
            v.dataset_id.label("did"),
            func.count().label("n"),
            func.min(v.published_at).label("first"),
        )
        .group_by(v.dataset_id)
        .subquery("versions")
    )
    ready = u.state == UploadState.READY
    uploads = (
        select(
            v.dataset_id.label("did"),
            func.sum(case((ready, func.coalesce(u.size, u.declared_size)), else_=0)).label("size"),
            func.sum(case((ready, 1), else_=0)).label("ready"),
            func.sum(case((u.state == UploadState.FAILED, 1), else_=0)).label("failed"),
        )
        .join(u, u.version_id == v.id)
        .where(u.state.in_((UploadState.READY, UploadState.FAILED)))
        .group_by(v.dataset_id)
        .subquery("uploads")
    )
    return (
        select(
            Dataset.id,
            Dataset.project_id,
            func.coalesce(versions.c.n, 0),
            func.coalesce(uploads.c.size, 0),
            func.coalesce(uploads.c.ready, 0),
            func.coalesce(uploads.c.failed, 0),
            versions.c.first,
        )
        .outerjoin(versions, versions.c.did == Dataset.id)
        .outerjoin(uploads, uploads.c.did == Dataset.id)
    )


Step = Any


async def _projects(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    for key, n in await session.execute(select(keys.c.key, func.count()).group_by(keys.c.key)):
        out[key].projects = n


async def _institutions(
    session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str
) -> None:
    pi = ProjectInstitution
    per_institution = (
        select(
            keys.c.key,
            pi.institution_id,
            func.max(case((pi.role.in_(_JAPAN_ROLES), 1), else_=0)).label("japan"),
            func.max(case((pi.role.in_(_PARTNER_ROLES), 1), else_=0)).label("partner"),
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


async def _experts(
    session: AsyncSession, _p: Principal, keys: Any, out: Step, dialect: str
) -> None:
    e = ExpertDispatch
    days = func.coalesce(_days(e.start_date, e.end_date, dialect), 0)
    stmt = (
        select(keys.c.key, e.origin_country, func.count(), func.sum(days))
        .join(e, e.project_id == keys.c.pid)
        .group_by(keys.c.key, e.origin_country)
    )
    for key, origin, n, total_days in await session.execute(stmt):
        f = out[key]
        months = float(total_days or 0) / 30
        f.expert_dispatches += n
        f.expert_person_months += months
        f.experts_by_origin[origin] = (n, months)


async def _training(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    stmt = (
        select(keys.c.key, func.count())
        .join(TrainingCourse, TrainingCourse.project_id == keys.c.pid)
        .join(TrainingParticipant, TrainingParticipant.course_id == TrainingCourse.id)
        .group_by(keys.c.key)
    )
    for key, n in await session.execute(stmt):
        out[key].training_participants = n


async def _equipment(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    stmt = (
        select(keys.c.key, func.sum(EquipmentItem.value))
        .join(EquipmentItem, EquipmentItem.project_id == keys.c.pid)
        .group_by(keys.c.key)
    )
    for key, value in await session.execute(stmt):
        out[key].equipment_value = Decimal(str(value or 0))


async def _indicators(
    session: AsyncSession, _p: Principal, keys: Any, out: Step, dialect: str
) -> None:
    """An indicator is on track when its latest measurement keeps up with a linear plan from
    the baseline at the project's start to the target at its end (on_track in
    server/pdm/service.py)."""
    m = IndicatorMeasurement
    ranked = select(
        m.indicator_id,
        m.value,
        m.measured_on,
        func.row_number()
        .over(partition_by=m.indicator_id, order_by=(m.measured_on.desc(), m.id.desc()))
        .label("n"),
    ).subquery("ranked")
    latest = select(ranked).where(ranked.c.n == 1).subquery("latest")
    i, p = Indicator, Project
    span = _days(p.start_date, p.end_date, dialect)
    elapsed = _days(p.start_date, latest.c.measured_on, dialect)
    planned = case((elapsed <= 0, 0.0), (elapsed >= span, 1.0), else_=cast(elapsed, Float) / span)
    fraction = cast(latest.c.value - i.baseline, Float) / cast(i.target - i.baseline, Float)
    on_track = and_(
        i.baseline.is_not(None),
        i.target.is_not(None),
        i.target != i.baseline,
        p.start_date.is_not(None),
        p.end_date > p.start_date,
        fraction >= planned,
    )
    stmt = (
        select(keys.c.key, func.count(), func.sum(case((on_track, 1), else_=0)))
        .join(PdmElement, PdmElement.project_id == keys.c.pid)
        .join(i, i.element_id == PdmElement.id)
        .join(p, p.id == keys.c.pid)
        .outerjoin(latest, latest.c.indicator_id == i.id)
        .group_by(keys.c.key)
    )
    for key, n, good in await session.execute(stmt):
        out[key].indicators, out[key].indicators_on_track = n, int(good or 0)


async def _evaluations(session: AsyncSession, _p: Principal, keys: Any, out: Step, _d: str) -> None:
    ev = Evaluation
    for key, n in await session.execute(
        select(keys.c.key, func.count()).join(ev, ev.project_id == keys.c.pid).group_by(keys.c.key)
    ):
        out[key].evaluations = n
    parts = [
        select(
            keys.c.key,
            literal(name).label("criterion"),
            getattr(ev, name).label("rating"),
            func.count().label("n"),
        )
        .join(ev, ev.project_id == keys.c.pid)
        .where(getattr(ev, name).is_not(None))
        .group_by(keys.c.key, getattr(ev, name))
        for name in _CRITERIA
    ]
    for key, criterion, rating, n in await session.execute(union_all(*parts)):
        out[key].ratings[(criterion, DacRating(rating))] = n


def _visible_datasets(principal: Principal, keys: Any) -> Any:
    """(key, did): the datasets the principal may see of the projects in `keys` (which
    already holds only projects the principal may see)."""
    return (
        select(keys.c.key, Dataset.id.label("did"))
        .join(Dataset, Dataset.project_id == keys.c.pid)
        .where(dataset_level_visible(principal))
    )


# ---- the theme x country matrix, the network, the time series ----------------------------


async def theme_country_matrix(
    session: AsyncSession, principal: Principal, flt: StatsFilter
) -> list[Cell]:
    dialect = session.get_bind().dialect.name
    keys = _keys(_scope(principal, check_filter(flt)), "theme", dialect)
    pc = ProjectCountry
    projects = (
        select(keys.c.key, pc.country_code, func.count())
        .join(pc, pc.project_id == keys.c.pid)
        .group_by(keys.c.key, pc.country_code)
    )
    if principal.is_staff:
        datasets = (
            select(keys.c.key, pc.country_code, func.sum(StatsProject.datasets))
            .join(pc, pc.project_id == keys.c.pid)
            .join(StatsProject, StatsProject.project_id == keys.c.pid)
            .group_by(keys.c.key, pc.country_code)
        )
    else:
        seen = _visible_datasets(principal, keys).subquery("seen")
        datasets = (
            select(seen.c.key, pc.country_code, func.count())
            .join(Dataset, Dataset.id == seen.c.did)
            .join(pc, pc.project_id == Dataset.project_id)
            .group_by(seen.c.key, pc.country_code)
        )
    counts = {(t, c): int(n) for t, c, n in await session.execute(datasets)}
    return [
        Cell(theme_id=t, country=c, projects=n, datasets=counts.get((t, c), 0))
        for t, c, n in sorted(await session.execute(projects))
    ]


def _side(japan: int, partner: int) -> Side:
    if japan:
        return Side.JAPAN
    return Side.PARTNER if partner else Side.THIRD_COUNTRY


MAX_EDGES = 5000


async def collaboration_network(
    session: AsyncSession, principal: Principal, flt: StatsFilter, max_edges: int = 500
) -> Network:
    """Institutions of the projects in scope; an edge per pair sharing a project, the
    strongest `max_edges` edges (and the nodes they join) when there are more."""
    if not 0 <= max_edges <= MAX_EDGES:
        raise DomainError.one(
            "INVALID_PAGE_SIZE", f"maxEdges must be between 0 and {MAX_EDGES}", "maxEdges"
        )
    flt = check_filter(flt)
    if principal.is_staff and flt == StatsFilter():
        cached = await _network_from_cube(session, max_edges)
        if cached is not None:
            return cached
    return await _live_network(session, principal, flt, max_edges)


async def _network_from_cube(session: AsyncSession, max_edges: int) -> Network | None:
    data = await session.scalar(
        select(StatsCube.figures).where(StatsCube.dimension == "network", StatsCube.key == "")
    )
    if data is None:
        return None
    return Network(
        nodes=[
            Node(
                id=n[0],
                name=n[1],
                country=n[2],
                kind=InstitutionKind(n[3]),
                side=Side(n[4]),
                projects=n[5],
            )
            for n in data["nodes"]
        ],
        edges=[Edge(*e) for e in data["edges"][:max_edges]],
    )


def _network_json(net: Network) -> dict[str, Any]:
    return {
        "nodes": [[n.id, n.name, n.country, n.kind, n.side.value, n.projects] for n in net.nodes],
        "edges": [[e.source, e.target, e.projects, e.datasets, e.japan_partner] for e in net.edges],
    }


async def _live_network(
    session: AsyncSession, principal: Principal, flt: StatsFilter, max_edges: int
) -> Network:
    scope = _scope(principal, flt)
    pi = ProjectInstitution
    is_japan = func.max(case((pi.role.in_(_JAPAN_ROLES), 1), else_=0))
    is_partner = func.max(case((pi.role.in_(_PARTNER_ROLES), 1), else_=0))
    node_rows = await session.execute(
        select(
            Institution.id,
            Institution.name_en,
            Institution.country_code,
            Institution.kind,
            is_japan,
            is_partner,
            func.count(distinct(pi.project_id)),
        )
        .join(pi, pi.institution_id == Institution.id)
        .join(scope, scope.c.pid == pi.project_id)
        .group_by(Institution.id, Institution.name_en, Institution.country_code, Institution.kind)
    )
    nodes = {
        r[0]: Node(
            id=r[0], name=r[1], country=r[2], kind=r[3], side=_side(r[4], r[5]), projects=r[6]
        )
        for r in node_rows
    }
    a, b = aliased(ProjectInstitution), aliased(ProjectInstitution)
    per_project = _datasets_per_project(principal, scope)
    shared = func.count()
    edge_rows = await session.execute(
        select(
            a.institution_id, b.institution_id, shared, func.coalesce(func.sum(per_project.c.n), 0)
        )
        .join(b, and_(b.project_id == a.project_id, b.institution_id > a.institution_id))
        .join(scope, scope.c.pid == a.project_id)
        .outerjoin(per_project, per_project.c.pid == a.project_id)
        .group_by(a.institution_id, b.institution_id)
        .order_by(shared.desc(), a.institution_id, b.institution_id)
        .limit(max_edges)
    )
    edges = []
    for src, dst, n_projects, n_datasets in edge_rows:
        sides = {nodes[src].side, nodes[dst].side}
        edges.append(
            Edge(src, dst, n_projects, int(n_datasets), sides == {Side.JAPAN, Side.PARTNER})
        )
    return Network(nodes=sorted(nodes.values(), key=lambda n: n.id), edges=edges)


def _datasets_per_project(principal: Principal, scope: Any) -> Any:
    """(pid, n): the datasets the principal may see, per project in scope."""
    if principal.is_staff:
        sp = StatsProject
        stmt = select(sp.project_id.label("pid"), sp.datasets.label("n")).join(
            scope, scope.c.pid == sp.project_id
        )
    else:
        stmt = (
            select(Dataset.project_id.label("pid"), func.count().label("n"))
            .join(scope, scope.c.pid == Dataset.project_id)
            .where(dataset_visible(principal))
            .group_by(Dataset.project_id)
        )
    return stmt.subquery("per_project")


async def activity_series(
    session: AsyncSession, principal: Principal, flt: StatsFilter
) -> list[Point]:
    """Per theme (a parent includes its sub-themes) and month: projects started, and datasets
    whose first version was published then (datasets count under their project's themes)."""
    dialect = session.get_bind().dialect.name
    scope = _scope(principal, check_filter(flt))
    keys = _keys(scope, "theme", dialect)
    started = _month(scope.c.start, dialect)
    projects = (
        select(keys.c.key, started, func.count())
        .join(scope, scope.c.pid == keys.c.pid)
        .where(scope.c.start.is_not(None))
        .group_by(keys.c.key, started)
    )
    sd = StatsDataset
    published = _month(sd.first_published_at, dialect)
    if principal.is_staff:
        key, source = keys.c.key, select(keys.c.key).join(sd, sd.project_id == keys.c.pid)
    else:
        seen = _visible_datasets(principal, keys).subquery("seen")
        key, source = seen.c.key, select(seen.c.key).join(sd, sd.dataset_id == seen.c.did)
    datasets = (
        source.add_columns(published, func.count())
        .where(sd.first_published_at.is_not(None))
        .group_by(key, published)
    )
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, month, n in await session.execute(projects):
        counts[(key, month)][0] = n
    for key, month, n in await session.execute(datasets):
        counts[(key, month)][1] = n
    return [
        Point(theme_id=t, month=dt.date(int(m[:4]), int(m[5:7]), 1), projects=p, datasets=d)
        for (t, m), (p, d) in sorted(counts.items())
    ]
