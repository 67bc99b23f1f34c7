"""Benchmark: full-text search at 100,000 documents on PostgreSQL and SQLite, against a
plain LIKE '%q%' scan of the same rows.

    .venv/bin/python bench/search.py [--documents 100000] [--rounds 3] [--backends postgresql,sqlite]

Each backend gets a fresh database (PostgreSQL: a uniquely named one, dropped at the end
whatever happens; SQLite: a file in a temporary directory), migrated, and N implementation
projects whose title and summary are two sentences drawn (fixed seed) from the 4,800 of the
search quality corpus (tests/fixtures/data/search_corpus.json.gz: Japanese, Thai,
Vietnamese, Indonesian, Spanish, Portuguese, French, English). The projects are inserted
in batches through SQL (the triggers gather the documents), then analysed in one pass
(`server.search.documents.refresh`, what a session does after its flush); both are timed.

The queries are the corpus's 320 (40 per language), asked anonymously (the access rules of
the SQL apply), first 10 hits:
- search: `server.search.queries.search`, the service GraphQL calls (analysis of the query,
  the match and rank in SQL, the count of all hits, highlights in Python);
- LIKE:   `SELECT kind, ref_id, count(*) OVER () FROM search_documents WHERE title LIKE
  '%q%' OR body LIKE '%q%' ORDER BY kind, ref_id LIMIT 10`: the same rows, scanned, with
  the count (case and diacritics as typed: it finds less).
One warm-up round, then `--rounds` rounds of every query, search and LIKE interleaved;
p50 and p99 of all timed calls. The database and the client share the machine: compare
ratios between runs, not milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import fresh_database  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from server.access.auth import ANONYMOUS  # noqa: E402
from server.core.db import make_engine, session_factory, utcnow  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from server.models import Project  # noqa: E402
from server.models.enums import ProjectPhase  # noqa: E402
from server.search.documents import refresh  # noqa: E402
from server.search.queries import search  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "tests/fixtures/data/search_corpus.json.gz"
BATCH = 5000
LIKE = text(
    "SELECT kind, ref_id, count(*) OVER () FROM search_documents"
    " WHERE title LIKE :p OR body LIKE :p ORDER BY kind, ref_id LIMIT 10"
)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def seed(url: str, documents: int) -> tuple[float, float]:
    corpus = json.loads(gzip.decompress(CORPUS.read_bytes()))
    pool = [s for d in corpus["docs"] for s in (d["title"], d["body"])]
    rng, now = random.Random(20), utcnow()
    engine = make_engine(url)
    began = time.perf_counter()
    async with engine.begin() as conn:
        for start in range(0, documents, BATCH):
            rows = [
                {
                    "title": rng.choice(pool)[:500],
                    "summary": rng.choice(pool),
                    "phase": ProjectPhase.IMPLEMENTATION,
                    "created_at": now,
                    "updated_at": now,
                }
                for _ in range(start, min(documents, start + BATCH))
            ]
            await conn.execute(insert(Project), rows)
    inserted = time.perf_counter() - began
    began = time.perf_counter()
    async with engine.begin() as conn:
        await conn.run_sync(refresh)
    analysed = time.perf_counter() - began
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    return inserted, analysed


async def measure(url: str, rounds: int) -> dict[str, list[float]]:
    queries = [q["query"] for q in json.loads(gzip.decompress(CORPUS.read_bytes()))["queries"]]
    engine = make_engine(url)
    sessions = session_factory(engine)
    timings: dict[str, list[float]] = {"search": [], "LIKE": []}
    hits: dict[str, int] = {"search": 0, "LIKE": 0}

    async def once(kind: str, query: str) -> float:
        async with sessions() as session:
            began = time.perf_counter()
            if kind == "search":
                found: Any = (await search(session, ANONYMOUS, query, [], 10, None)).hits
            else:
                found = (await session.execute(LIKE, {"p": f"%{query}%"})).all()
            elapsed = (time.perf_counter() - began) * 1000
        hits[kind] += bool(found)
        return elapsed

    for round_ in range(rounds + 1):
        for query in queries:
            for kind in ("search", "LIKE"):
                elapsed = await once(kind, query)
                if round_ > 0:
                    timings[kind].append(elapsed)
    await engine.dispose()
    for kind in timings:
        print(f"  {kind}: {hits[kind] // (rounds + 1)} of {len(queries)} queries found something")
    return timings


def report(backend: str, documents: int, seeded: tuple[float, float], t: dict[str, Any]) -> None:
    print(
        f"\n{backend}: {documents:,} documents (inserted in {seeded[0]:.1f} s, analysed in "
        f"{seeded[1]:.1f} s); {len(t['search'])} timed calls each (ms)"
    )
    print(f"{'':<8}{'p50':>9}{'p99':>9}")
    for kind in ("search", "LIKE"):
        print(f"{kind:<8}{quantile(t[kind], 0.5):>9.2f}{quantile(t[kind], 0.99):>9.2f}")
    p50 = quantile(t["search"], 0.5)
    ratio50 = quantile(t["LIKE"], 0.5) / p50
    ratio99 = quantile(t["LIKE"], 0.99) / quantile(t["search"], 0.99)
    print(f"LIKE / search: p50 {ratio50:.1f}x, p99 {ratio99:.1f}x")
    print(f"target p50 <= 50 ms: {'met' if p50 <= 50 else 'NOT met'}")


def run(backend: str, url: str, args: argparse.Namespace) -> None:
    upgrade(url)
    seeded = asyncio.run(seed(url, args.documents))
    timings = asyncio.run(measure(url, args.rounds))
    report(backend, args.documents, seeded, timings)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="postgresql,sqlite")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    backends = args.backends.split(",")
    if "postgresql" in backends:
        with fresh_database("search") as url:
            run("postgresql", url, args)
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite+aiosqlite:///{tmp}/search.db", args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
