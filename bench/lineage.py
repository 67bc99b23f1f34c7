"""Benchmark: lineage queries of depth 10 on a provenance graph of 100,000 nodes (PostgreSQL).

    .venv/bin/python bench/lineage.py [--nodes 100000] [--queries 300] [--depth 10]

A uniquely named PostgreSQL database is created (dropped at the end, whatever happens),
migrated, and given a small research graph (`server.demo.seed_scaled`), 200 datasets of
mixed access levels, and a synthetic PROV graph built inside PostgreSQL: N nodes, each
derived from 1 to 3 earlier nodes (60/30/10 %) within a window of 5,000, 80 % of them
belonging to a dataset. The start nodes are the same random sample for every variant.

Variants, each timed per query (p50, p99, mean), in this one process:

- cte/staff:      `server.provenance.lineage.graph` UPSTREAM as a curator: the recursive CTE,
                  the nodes with their visibility, the edges among them (what GraphQL runs);
- cte/researcher: the same for a researcher: every node checked against the access rules
                  in SQL (redacted when restricted);
- cte/both:       UPSTREAM and DOWNSTREAM at once, as a researcher;
- python walk:    the baseline the issue rules out: a breadth-first walk in Python, one
                  SELECT per level, then the same node and edge reads.

The CTE and the Python walk must reach the same nodes (checked before timing).
PostgreSQL and the client share the machine: compare ratios between runs, not milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import fresh_database  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from server.access.auth import Principal  # noqa: E402
from server.core.db import make_engine, session_factory  # noqa: E402
from server.demo import seed_scaled  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from server.models import Project, ProjectMember, Researcher  # noqa: E402
from server.models.enums import AccountRole  # noqa: E402
from server.models.provenance import ProvEdge, ProvNode  # noqa: E402
from server.provenance.lineage import (  # noqa: E402
    SYSTEM,
    Direction,
    graph,
    node_visible,
    redact_edges,
)

SEED_DATASETS = """
INSERT INTO datasets (project_id, owner_institution_id, title, keywords, licence, access_level,
                      embargo_until, created_at, updated_at)
SELECT pi.project_id, pi.institution_id, 'Dataset ' || g, '[]', 'CC-BY-4.0',
       (ARRAY['public', 'project', 'institution'])[1 + g % 3], NULL, now(), now()
FROM generate_series(1, 200) g
JOIN LATERAL (SELECT project_id, institution_id FROM project_institutions
              ORDER BY id OFFSET (g % (SELECT count(*) FROM project_institutions)) LIMIT 1) pi
  ON true
"""
SEED_NODES = """
INSERT INTO prov_nodes (id, key, kind, type, label, dataset_id, project_id, attributes, created_at)
SELECT g, 'n-' || g,
       (ARRAY['entity', 'entity', 'activity', 'agent'])[1 + g % 4],
       (ARRAY['dataset_version', 'artifact', 'ingest', 'researcher'])[1 + g % 4],
       'node ' || g,
       CASE WHEN random() < 0.8 THEN d.id END, CASE WHEN random() < 0.8 THEN d.project_id END,
       '{}', now()
FROM generate_series(1, :n) g
JOIN LATERAL (SELECT id, project_id FROM datasets ORDER BY id
              OFFSET (g % 200) LIMIT 1) d ON true
"""
SEED_EDGES = """
INSERT INTO prov_edges (relation, subject_id, object_id, created_at)
SELECT :relation, g, greatest(1, g - 1 - floor(random() * least(g - 1, 5000))::int), now()
FROM generate_series(2, :n) g
WHERE random() < :share
ON CONFLICT DO NOTHING
"""
# every node derives from one earlier node, 40 % from a second, 25 % from a third
EDGE_LAYERS = (("wasDerivedFrom", 1.0), ("used", 0.4), ("wasGeneratedBy", 0.25))


async def seed(url: str, nodes: int) -> Principal:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            await seed_scaled(session, themes=4, projects_per_theme=10, institutions_per_project=4)
            await session.commit()
            await session.execute(text("SELECT setseed(0.42)"))
            await session.execute(text(SEED_DATASETS))
            await session.execute(text(SEED_NODES), {"n": nodes})
            for relation, share in EDGE_LAYERS:
                await session.execute(
                    text(SEED_EDGES), {"n": nodes, "relation": relation, "share": share}
                )
            await session.execute(text("ANALYZE"))
            await session.commit()
            researcher = await session.scalar(
                select(ProjectMember.researcher_id).order_by(ProjectMember.id).limit(1)
            )
            counts = [
                await session.scalar(select(func.count()).select_from(t))
                for t in (ProvNode, ProvEdge, Project, Researcher)
            ]
        nodes_n, edges_n, projects_n, people_n = counts
        print(
            f"seeded: {nodes_n} PROV nodes, {edges_n} edges, {projects_n} projects,"
            f" {people_n} researchers, 200 datasets"
        )
        return Principal(account_id=None, role=AccountRole.RESEARCHER, researcher_id=researcher)
    finally:
        await engine.dispose()


async def python_walk(
    session: AsyncSession, principal: Principal, start: int, depth: int
) -> set[int]:
    """The baseline: a breadth-first walk in Python, one SELECT per level."""
    seen, frontier = {start}, {start}
    for _ in range(depth):
        if not frontier:
            break
        rows = await session.scalars(
            select(ProvEdge.object_id).where(ProvEdge.subject_id.in_(frontier))
        )
        frontier = set(rows) - seen
        seen |= frontier
    nodes = (
        await session.execute(
            select(ProvNode, node_visible(principal)).where(ProvNode.id.in_(seen))
        )
    ).all()
    edges = (
        await session.scalars(
            select(ProvEdge).where(ProvEdge.subject_id.in_(seen), ProvEdge.object_id.in_(seen))
        )
    ).all()
    assert len(nodes) == len(seen) and edges is not None
    return seen


Query = Callable[[AsyncSession, int], Awaitable[int]]


async def timed(
    sessions: async_sessionmaker[AsyncSession], query: Query, starts: list[int]
) -> tuple[list[float], list[int]]:
    latencies, sizes = [], []
    async with sessions() as session:
        for start in starts[:20]:  # warm-up
            await query(session, start)
        for start in starts:
            began = time.perf_counter()
            sizes.append(await query(session, start))
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies, sizes


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, researcher: Principal, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    sessions = session_factory(engine)
    rng = random.Random(7)
    starts = [rng.randint(args.nodes // 2, args.nodes) for _ in range(args.queries)]
    depth = args.depth

    async def cte_as(principal: Principal, direction: Direction) -> Query:
        async def query(session: AsyncSession, start: int) -> int:
            return len((await graph(session, principal, [start], direction, depth)).nodes)

        return query

    async def walk(session: AsyncSession, start: int) -> int:
        return len(await python_walk(session, researcher, start, depth))

    async with sessions() as session:  # same answer before any timing
        for start in starts[:25]:
            by_cte = await graph(session, researcher, [start], Direction.UPSTREAM, depth)
            assert {n.id for n in by_cte.nodes} == await python_walk(
                session, researcher, start, depth
            )
            assert redact_edges(by_cte.nodes, []) == []
    variants = {
        "cte/staff": await cte_as(SYSTEM, Direction.UPSTREAM),
        "cte/researcher": await cte_as(researcher, Direction.UPSTREAM),
        "cte/both": await cte_as(researcher, Direction.BOTH),
        "python walk": walk,
    }
    results = {}
    for name, query in variants.items():
        results[name] = await timed(sessions, query, starts)
    await engine.dispose()

    print(f"\n{args.queries} lineage queries, depth {depth}, on {args.nodes:,} nodes (ms):")
    print(f"{'variant':<16}{'p50':>9}{'p99':>9}{'mean':>9}{'nodes p50':>11}{'max':>7}")
    for name, (latencies, sizes) in results.items():
        print(
            f"{name:<16}{quantile(latencies, 0.5):>9.2f}{quantile(latencies, 0.99):>9.2f}"
            f"{statistics.fmean(latencies):>9.2f}{statistics.median(sizes):>11.0f}{max(sizes):>7}"
        )
    base = quantile(results["python walk"][0], 0.5)
    for name in ("cte/staff", "cte/researcher", "cte/both"):
        p50 = quantile(results[name][0], 0.5)
        print(f"p50 python walk / {name}: {base / p50:.2f}x")
    target = quantile(results["cte/researcher"][0], 0.5)
    print(f"target p50 <= 50 ms (cte/researcher): {'met' if target <= 50 else 'NOT met'}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--depth", type=int, default=10)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    with fresh_database("lineage") as url:
        upgrade(url)
        researcher = asyncio.run(seed(url, args.nodes))
        asyncio.run(measure(url, researcher, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
