"""The theme x country matrix, the collaboration network and the activity series."""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.access.auth import Principal
from server.access.visibility import dataset_visible
from server.analytics.scope import (
    JAPAN_ROLES,
    PARTNER_ROLES,
    StatsFilter,
    check_filter,
    group_keys,
    month_of,
    projects_in_scope,
    visible_datasets,
)
from server.core.errors import DomainError, QueryErrorCode
from server.models import (
    Dataset,
    Institution,
    ProjectCountry,
    ProjectInstitution,
    StatsCube,
    StatsDataset,
    StatsProject,
)
from server.models.enums import InstitutionKind


class Side(enum.StrEnum):
    JAPAN = "japan"
    PARTNER = "partner"
    THIRD_COUNTRY = "third_country"


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


async def theme_country_matrix(
    session: AsyncSession, principal: Principal, flt: StatsFilter
) -> list[Cell]:
    dialect = session.get_bind().dialect.name
    keys = group_keys(projects_in_scope(principal, check_filter(flt)), "theme", dialect)
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
        seen = visible_datasets(principal, keys).subquery("seen")
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
            QueryErrorCode.INVALID_PAGE_SIZE,
            f"maxEdges must be between 0 and {MAX_EDGES}",
            "maxEdges",
        )
    flt = check_filter(flt)
    if principal.is_staff and flt == StatsFilter():
        cached = await _network_from_cube(session, max_edges)
        if cached is not None:
            return cached
    return await live_network(session, principal, flt, max_edges)


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


def network_json(net: Network) -> dict[str, Any]:
    return {
        "nodes": [[n.id, n.name, n.country, n.kind, n.side.value, n.projects] for n in net.nodes],
        "edges": [[e.source, e.target, e.projects, e.datasets, e.japan_partner] for e in net.edges],
    }


async def live_network(
    session: AsyncSession, principal: Principal, flt: StatsFilter, max_edges: int
) -> Network:
    scope = projects_in_scope(principal, flt)
    pi = ProjectInstitution
    is_japan = func.max(case((pi.role.in_(JAPAN_ROLES), 1), else_=0))
    is_partner = func.max(case((pi.role.in_(PARTNER_ROLES), 1), else_=0))
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
    scope = projects_in_scope(principal, check_filter(flt))
    keys = group_keys(scope, "theme", dialect)
    started = month_of(scope.c.start, dialect)
    projects = (
        select(keys.c.key, started, func.count())
        .join(scope, scope.c.pid == keys.c.pid)
        .where(scope.c.start.is_not(None))
        .group_by(keys.c.key, started)
    )
    sd = StatsDataset
    published = month_of(sd.first_published_at, dialect)
    if principal.is_staff:
        key, source = keys.c.key, select(keys.c.key).join(sd, sd.project_id == keys.c.pid)
    else:
        seen = visible_datasets(principal, keys).subquery("seen")
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
