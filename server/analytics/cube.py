"""Refreshing the materialised figures: the stats_* tables, rebuilt from the live rows, and
the cube of unfiltered figures (staff's and the public's) and the staff's network."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import (
    Float,
    Select,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible
from server.analytics.charts import MAX_EDGES, live_network, network_json
from server.analytics.scope import ADMIN, PUBLIC, StatsFilter, days_between
from server.analytics.totals import (
    DIMENSIONS,
    Figures,
    Step,
    cents,
    figures_json,
    live_figures,
)
from server.models import (
    Dataset,
    DatasetVersion,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    Indicator,
    IndicatorMeasurement,
    PdmElement,
    Project,
    ProjectCountry,
    ProjectTheme,
    StatsCube,
    StatsDataset,
    StatsDatasetBucket,
    StatsProject,
    StatsProjectEquipment,
    StatsProjectOrigin,
    StatsProjectRating,
    StatsPublicProject,
    StatsRefresh,
    TrainingCourse,
    TrainingParticipant,
    Upload,
)
from server.models.enums import DacRating, UploadState
from server.models.stats import NO_EMBARGO

STATS_REFRESH_SECONDS = 60


_CRITERIA = ("relevance", "coherence", "effectiveness", "impact", "efficiency", "sustainability")


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
    for model in (
        StatsProject,
        StatsProjectEquipment,
        StatsProjectOrigin,
        StatsProjectRating,
        StatsDataset,
        StatsCube,
    ):
        await session.execute(delete(model))
    await session.execute(insert(StatsDataset).from_select(_DATASET_COLUMNS, _dataset_figures()))
    await session.execute(delete(StatsDatasetBucket))
    await session.execute(insert(StatsDatasetBucket).from_select(_BUCKET_COLUMNS, _buckets()))
    keys = select(Project.id.label("pid"), Project.id.label("key")).subquery("keys")
    out: dict[Any, Figures] = defaultdict(Figures)
    for step in (_experts, _training, _equipment, _indicators, _evaluations):
        await step(session, ADMIN, keys, out, dialect)
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
    projects, equipment, origins, ratings = [], [], [], []
    for pid, f in out.items():
        projects.append(
            {
                "project_id": pid,
                "dispatches": f.expert_dispatches,
                "dispatch_days": f.expert_person_months * 30,
                "participants": f.training_participants,
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
        equipment += [
            {"project_id": pid, "currency": c, "value": v} for c, v in f.equipment_values.items()
        ]
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
        (StatsProjectEquipment, equipment),
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


async def _build_cube(session: AsyncSession) -> None:
    rows = [
        {"dimension": dimension, "key": str(key), "figures": figures_json(f)}
        for dimension in DIMENSIONS
        for key, f in (await live_figures(session, ADMIN, StatsFilter(), dimension)).items()
    ]
    rows += [
        {"dimension": f"public/{dimension}", "key": str(key), "figures": figures_json(f)}
        for dimension in DIMENSIONS
        for key, f in (
            await live_figures(session, PUBLIC, StatsFilter(), dimension, datasets=False)
        ).items()
    ]
    network = await live_network(session, ADMIN, StatsFilter(), MAX_EDGES)
    rows.append({"dimension": "network", "key": "", "figures": network_json(network)})
    await session.execute(insert(StatsCube), rows)
    await session.execute(delete(StatsPublicProject))
    await session.execute(
        insert(StatsPublicProject).from_select(
            ["project_id"], select(Project.id).where(project_visible(PUBLIC))
        )
    )


async def refreshed_at(session: AsyncSession) -> dt.datetime | None:
    return await session.scalar(select(func.max(StatsRefresh.refreshed_at)))


async def _experts(
    session: AsyncSession, _p: Principal, keys: Any, out: Step, dialect: str
) -> None:
    e = ExpertDispatch
    days = func.coalesce(days_between(e.start_date, e.end_date, dialect), 0)
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
    e = EquipmentItem
    stmt = (
        select(keys.c.key, e.currency, func.sum(e.value))
        .join(e, e.project_id == keys.c.pid)
        .where(e.value.is_not(None), e.currency.is_not(None))
        .group_by(keys.c.key, e.currency)
    )
    for key, currency, value in await session.execute(stmt):
        out[key].equipment_values[currency] = cents(value)


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
    span = days_between(p.start_date, p.end_date, dialect)
    elapsed = days_between(p.start_date, latest.c.measured_on, dialect)
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
