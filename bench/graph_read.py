"""Benchmark: GraphQL reads, compiled path vs strawberry path vs hand-written SQL endpoints.

    .venv/bin/python bench/graph_read.py [--quick] [--backends postgresql,sqlite]
        [--queries nested,node,page] [--requests 400] [--seconds 1.0] [--rounds 5]
        [--concurrency 8] [--warmup 20]

(the defaults take about 4 minutes on a 2-core machine; `--quick` about 20 seconds)

One run measures three queries on PostgreSQL and on SQLite, each through three paths:

- compiled:     `server.http.app.create_app` with `Settings.compiled_reads` on (root fields
                answered by one SQL statement that builds the JSON, `schema/compiled`);
                until a root field is compiled, it is answered through strawberry;
- strawberry:   the same app with `compiled_reads` off (resolvers and dataloaders);
- hand-written: a plain Starlette endpoint per query running ONE hand-written statement
                whose JSON text goes straight into the response body (PostgreSQL:
                json_build_object / json_agg, in autocommit as the fast path's statement;
                SQLite: json_object / json_group_array).

The queries (as an admin with a bearer token, rate limits off; the admin sees every
project, so the hand-written statements need no access filter):

- nested: `{ themes { id name projects { id title institutions { role institution
  { id nameEn } } } } }` against GET /themes;
- node:   `node(id: $id) { ... on Project { id title acronym phase startDate endDate
  themes { id name } } }` for the public project with the most themes, against
  GET /projects/<id>; also anonymously ("compiled anon": no token to look up, as the
  hand-written endpoint);
- page:   `projects(first: 50) { totalCount edges { cursor node { id title phase } }
  pageInfo { hasNextPage endCursor } }` against GET /projects?first=50.

Global ids (base64 of "Type:id") and cursors (urlsafe base64 of "k1:id") are built by the
hand-written SQL itself, so its answer is byte for byte what GraphQL should answer. On
PostgreSQL with encode(..., 'base64'); SQLite has no base64 in SQL, so the statement
spells it out: the prefix's whole 3-byte groups are a constant, the rest of "Type:<digits>"
is looked up 3 digits at a time in blob literals of precomputed 4-character groups
(`sqlite_base64`; in the nested statement in CTEs over the tables, as at its innermost
level the expression overflows SQLite's parser stack). No Python function is registered on
the connection, so the SQLite hand-written endpoint neither depends on server code nor
takes the GIL in SQLite's thread.

Before any timing each GraphQL answer (both paths) is checked against the hand-written one:
parsed and normalised (nested: themes, theme-project pairs and project-institution links as
sorted multisets; node: the object, its themes sorted; page: the whole answer, in order).
Each endpoint then gets a warm-up; then `--rounds` interleaved rounds (compiled,
strawberry, hand-written, in turn) of sequential requests from one client, then as many of
`--concurrency` concurrent workers. A measurement stops after `--requests` requests or
`--seconds` seconds, whichever comes first (so a slow path costs seconds, not minutes);
req/s is the median over the rounds, p50 the median latency of all of them. SQL statements
per request are counted with a `before_cursor_execute` listener on each app's own engine,
over all timed requests: "data" statements, and apart from them the token lookup of the
bearer authentication ("auth"); a fast-path statement that reads the token and the data
at once (a document and a token seen before) counts as data; transaction control
(SQLite's explicit BEGIN) is not counted. The hand-written endpoints authenticate nobody.

Kept out of the figures: the apps get a job queue of their own, so the embedded reconciler
does not run (its rounds every 5 s would add statements to the counts and load to the
machine); the tokens' last-used time is set ahead, so the once-a-minute UPDATE of
`authenticate` does not happen (on SQLite concurrent requests would race for the write
lock); the listening sockets say IPPROTO_TCP, so that asyncio turns Nagle off on the
connections (without it every small response waited ~40 ms for a delayed ACK).

PostgreSQL targets (printed as MET / MISSED, per mode): compiled nested >= 0.5x the
hand-written json_agg endpoint's req/s; compiled node >= 0.8x the hand-written by-id
endpoint; one data statement per root field (each query has one) on the compiled path.

Access filters (issue 6), on PostgreSQL, through the compiled app: the nested query as
anonymous, as a researcher and as an admin. The admin's reads are unfiltered
(`project_visible` is `true` for staff); anonymous callers get the phase filter, the
researcher the phase filter OR membership OR one of their institutions' projects (a bench
researcher who is a member of `--member-projects` projects, half of them before approval,
and affiliated with one institution). Each principal's answer is checked against
hand-written SQL counts first; then the three are measured in `--rounds` interleaved rounds
(sequential, then concurrent) and the median req/s reported, with the ratios to the
admin's. The filters cost at most 20% of throughput when both filtered principals reach
0.8 of the admin's req/s. The filtered answers are smaller (fewer projects), so the same
ratio is also given per project returned.

Databases: the parent process creates a uniquely named PostgreSQL database (dropped at the
end, whatever happens) and a SQLite file in a temporary directory, migrates both
(`server.migrations.upgrade`) and seeds the same synthetic graph into each
(`server.demo.seed_scaled`: by default 20 themes x 25 projects x 4 institutions). For each
backend a child process serves the three apps with uvicorn on free loopback ports and drives
them with one httpx client; it hands its figures back to the parent in a JSON file, and the
parent prints the summary and the targets. `--quick` is a smoke run (a small graph, a few
requests per measurement, one round): it checks every answer and prints every table, but
its figures mean little.

Why child processes: a crash or a hang of the servers must not leave the database behind
(the parent drops it and reports the exit status). On CPython 3.11.7, migrating, seeding
and serving in one process ended in a segmentation fault every time; on 3.12 (what the
project now requires) it has not, but the separation costs nothing and keeps it safe.

Client, servers and database share the machine: absolute numbers are only comparable
between runs on the same machine; the ratios are the point.

This file holds the command, the runs and the summary; beside it: graph_read_queries.py
(the GraphQL documents, how answers are checked), graph_read_sql.py (the hand-written
endpoints), graph_read_seed.py (the seeding), graph_read_access.py (the access filters'
check and measurement) and graph_read_measure.py (serving, counting, timing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from common import fresh_database
from graph_read_access import PRINCIPALS, bench_principals, expected_pairs
from graph_read_measure import Send, StatementCounter, Stats, measure, merged, say, serving
from graph_read_queries import PAGE_SIZE, Query, data_of, queries
from graph_read_seed import seed
from graph_read_sql import hand_app, hand_engine, public_phases_sql
from sqlalchemy import event

from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.core.fast_reads import AsyncpgReads
from server.core.jobs import InProcessJobs
from server.http.app import create_app
from server.migrations import upgrade

BACKENDS = ("postgresql", "sqlite")
PATHS = ("compiled", "strawberry", "hand-written")


# ---- database lifecycle ----------------------------------------------------------------


@contextmanager
def databases(backends: list[str], workdir: Path) -> Iterator[dict[str, str]]:
    """The URL of a fresh database per backend: PostgreSQL dropped, SQLite in `workdir`."""
    urls = {}
    if "sqlite" in backends:
        urls["sqlite"] = f"sqlite+aiosqlite:///{workdir / 'bench.sqlite'}"
    if "postgresql" not in backends:
        yield urls
        return
    with fresh_database("graph_read", say) as url:
        yield {"postgresql": url, **urls}


# ---- the run ---------------------------------------------------------------------------


@dataclass
class Target:
    path: str
    send: Send
    counter: StatementCounter


async def bench_query(
    args: argparse.Namespace, query: Query, targets: list[Target], backend: str
) -> dict[str, Any]:
    """Check every path's answer against the hand-written one, then measure them in
    interleaved rounds; returns the figures by path."""
    answers = {t.path: data_of(t.path, await t.send()) for t in targets}
    expected = query.normalise(answers["hand-written"])
    for path, data in answers.items():
        if query.normalise(data) != expected:
            raise RuntimeError(f"{backend} {query.key}: the {path} answer differs")
    say(f"\n{backend}: {query.title}")
    say(f"  answers match: {query.describe(answers['hand-written'])}")

    for target in targets:
        await measure(target.send, args.warmup, 1, args.seconds)
    before = {t.path: t.counter.snapshot() for t in targets}
    modes = [("sequential", 1)]
    if args.concurrency > 1:
        modes.append((f"concurrency {args.concurrency}", args.concurrency))
    runs: dict[tuple[str, str], list[Stats]] = {}
    for mode, concurrency in modes:
        for _ in range(args.rounds):
            for target in targets:
                run = await measure(target.send, args.requests, concurrency, args.seconds)
                runs.setdefault((target.path, mode), []).append(run)

    figures: dict[str, Any] = {}
    for target in targets:
        sent = sum(s.requests for mode, _ in modes for s in runs[(target.path, mode)])
        entry: dict[str, Any] = {}
        for mode, _ in modes:
            stats = runs[(target.path, mode)]
            entry[mode] = {
                "rps": statistics.median(s.rps for s in stats),
                "p50": merged(stats).percentile(50),
            }
        done = target.counter.snapshot()
        entry["data"] = (done[0] - before[target.path][0]) / sent
        entry["auth"] = (done[1] - before[target.path][1]) / sent
        figures[target.path] = entry

    say(f"  median of {args.rounds} rounds, each up to {args.requests} requests / {args.seconds} s")
    header = f"  {'path':<13}"
    for mode, _ in modes:
        header += f" {mode + ' req/s':>{max(len(mode) + 6, 17)}} {'p50 ms':>8}"
    say(header + "   SQL/request: data + auth")
    for path, entry in figures.items():
        row = f"  {path:<13}"
        for mode, _ in modes:
            row += f" {entry[mode]['rps']:>{max(len(mode) + 6, 17)}.1f} {entry[mode]['p50']:>8.1f}"
        say(f"{row}   {entry['data']:.1f} + {entry['auth']:.1f}")
    for versus in ("hand-written", "strawberry"):
        ratios = ", ".join(
            f"{mode} {figures['compiled'][mode]['rps'] / figures[versus][mode]['rps']:.3f}x"
            for mode, _ in modes
        )
        say(f"  compiled/{versus}: {ratios}")
    return figures


ANONYMOUS_PATH = "compiled anon"  # the compiled path without a token to look up


def count_fast_reads(reads: Any, counter: StatementCounter) -> None:
    """Count the statements the fast path runs on asyncpg itself (server.core.fast_reads:
    no SQLAlchemy engine to listen on), as the engines' listeners count theirs."""
    if not isinstance(reads, AsyncpgReads):
        return  # through SQLAlchemy on the app's own engine: counted there
    rows = reads.rows

    async def counted(statements: Any, limit: float) -> Any:
        for sql, _ in statements:
            counter(None, None, sql)
        return await rows(statements, limit)

    reads.rows = counted  # type: ignore[method-assign]


async def measure_backend(
    backend: str, url: str, tokens: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    # each path its own app and engine, so its statements are counted apart
    paths = (*PATHS, ANONYMOUS_PATH)
    engines = {path: make_engine(url) for path in paths}
    if url.startswith("postgresql"):  # a hand-written endpoint's pool does not ping
        await engines["hand-written"].dispose()
        engines["hand-written"] = hand_engine(url)
    counters = {path: StatementCounter() for path in paths}
    for path in paths:
        event.listen(engines[path].sync_engine, "before_cursor_execute", counters[path])
    # no rate limits: thousands of requests from one account and one address
    settings = Settings(database_url=url, rate_limit_points=0, rate_limit_anonymous_points=0)
    # a job queue given, so no reconciler: its rounds every 5 s would run statements on
    # the counted engines (and the two apps' stats refreshes would collide); reads enqueue
    # nothing
    jobs = {path: InProcessJobs({}) for path in ("compiled", "strawberry", ANONYMOUS_PATH)}
    apps = {
        path: create_app(
            settings.model_copy(update={"compiled_reads": path != "strawberry"}),
            sessions=session_factory(engines[path]),
            jobs=jobs[path],
        )
        for path in jobs
    }
    for path, app in apps.items():  # the fast path's own pool (PostgreSQL) is counted too
        endpoint = next(r.endpoint for r in app.routes if getattr(r, "path", None) == "/graphql")
        count_fast_reads(endpoint.fast.reads, counters[path])
    try:
        async with engines["hand-written"].connect() as conn:
            project_id = (
                await conn.exec_driver_sql(
                    "SELECT pt.project_id FROM project_themes pt"
                    " JOIN projects pr ON pr.id = pt.project_id"
                    f" WHERE pr.phase IN ({public_phases_sql()})"  # anonymous sees it too
                    " GROUP BY pt.project_id ORDER BY count(*) DESC, pt.project_id LIMIT 1"
                )
            ).scalar_one()
        async with (
            serving(apps["compiled"]) as compiled_url,
            serving(apps["strawberry"]) as strawberry_url,
            serving(apps[ANONYMOUS_PATH]) as anonymous_url,
            serving(hand_app(engines["hand-written"])) as hand_url,
            httpx.AsyncClient(timeout=120) as client,
        ):

            def graphql(base: str, query: Query, principal: str = "admin") -> Send:
                token = tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                # encoded once: the client's JSON encoding is no part of what is measured
                # (the hand-written endpoints are GETs without a body)
                body = json.dumps({"query": query.document, "variables": query.variables})
                headers["Content-Type"] = "application/json"

                def send() -> Awaitable[httpx.Response]:
                    return client.post(f"{base}/graphql", content=body, headers=headers)

                return send

            def hand(query: Query) -> Send:
                def send() -> Awaitable[httpx.Response]:
                    return client.get(f"{hand_url}{query.hand_path}")

                return send

            results = {}
            for query in queries(project_id):
                if query.key not in args.queries:
                    continue
                targets = [
                    Target("compiled", graphql(compiled_url, query), counters["compiled"]),
                    Target("strawberry", graphql(strawberry_url, query), counters["strawberry"]),
                    Target("hand-written", hand(query), counters["hand-written"]),
                ]
                if query.key == "node":  # the hand-written endpoint authenticates nobody
                    anonymous = graphql(anonymous_url, query, "anonymous")
                    targets.insert(1, Target(ANONYMOUS_PATH, anonymous, counters[ANONYMOUS_PATH]))
                results[query.key] = await bench_query(args, query, targets, backend)
            if backend == "postgresql" and "nested" in args.queries:
                nested = queries(project_id)[0]
                senders = {name: graphql(compiled_url, nested, name) for name in PRINCIPALS}
                await bench_principals(args, senders, await expected_pairs(engines["hand-written"]))
            return results
    finally:
        for queue in jobs.values():
            await queue.close()
        for engine in engines.values():
            await engine.dispose()


def measuring_process(
    backend: str, url: str, tokens: dict[str, str], args: argparse.Namespace, out: str
) -> None:
    """Servers and client, in a child process: if the server crashes, the parent still
    drops the database and says so. The figures go to the JSON file `out`."""
    results = asyncio.run(measure_backend(backend, url, tokens, args))
    Path(out).write_text(json.dumps(results))


# ---- the summary -----------------------------------------------------------------------

QUERY_NAMES = {"nested": "nested", "node": "node(id)", "page": f"page of {PAGE_SIZE}"}


def summarise(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    modes = ["sequential"]
    if args.concurrency > 1:
        modes.append(f"concurrency {args.concurrency}")
    say(f"\nsummary: median req/s ({' | '.join(modes)}); SQL: data statements per request")
    say(
        f"  {'backend':<10} {'query':<11} {'compiled':>15} {'strawberry':>15} "
        f"{'hand-written':>15} {'compiled/hand':>15} {'compiled/straw':>15} "
        f"{'SQL compiled':>12} {'SQL straw':>9}"
    )
    for backend, figures in results.items():
        for key, by_path in figures.items():
            rps = {p: [float(by_path[p][mode]["rps"]) for mode in modes] for p in PATHS}
            columns = [" | ".join(f"{x:.1f}" for x in rps[p]) for p in PATHS]
            for versus in ("hand-written", "strawberry"):
                ratios = (c / v for c, v in zip(rps["compiled"], rps[versus], strict=True))
                columns.append(" | ".join(f"{x:.3f}" for x in ratios))
            say(
                f"  {backend:<10} {QUERY_NAMES[key]:<11} "
                + " ".join(f"{column:>15}" for column in columns)
                + f" {by_path['compiled']['data']:>12.1f} {by_path['strawberry']['data']:>9.1f}"
            )
    if "postgresql" in results:
        report_targets(results["postgresql"], modes)


def report_targets(figures: dict[str, Any], modes: list[str]) -> None:
    say("\nPostgreSQL targets (compiled path)")
    for key, label, goal in (
        ("nested", "big nested query >= 0.5x the hand-written json_agg endpoint", 0.5),
        ("node", "node(id) >= 0.8x the hand-written by-id endpoint", 0.8),
    ):
        if key not in figures:
            continue
        by_path = figures[key]
        for mode in modes:
            ratio = by_path["compiled"][mode]["rps"] / by_path["hand-written"][mode]["rps"]
            met = "MET" if ratio >= goal else "MISSED"
            say(f"  {label}, {mode}: {met} ({ratio:.3f}x)")
    node = figures.get("node", {})
    if ANONYMOUS_PATH in node:
        for mode in modes:
            ratio = node[ANONYMOUS_PATH][mode]["rps"] / node["hand-written"][mode]["rps"]
            met = "MET" if ratio >= 0.8 else "MISSED"
            say(
                f"  node(id) anonymous (no token lookup) >= 0.8x by-id, {mode}: {met} ({ratio:.3f}x)"
            )
    statements = {key: by_path["compiled"]["data"] for key, by_path in figures.items()}
    met = "MET" if all(n <= 1.0 for n in statements.values()) else "MISSED"
    say(
        f"  one SQL statement per root field (data statements/request, the token lookup "
        f"aside): {met} ("
        + ", ".join(f"{QUERY_NAMES[key]} {n:.1f}" for key, n in statements.items())
        + ")"
    )


# ---- the command -----------------------------------------------------------------------


QUICK = {
    "requests": 6,
    "seconds": 0.2,
    "rounds": 1,
    "warmup": 1,
    "themes": 4,
    "projects": 8,
    "institutions": 2,
    "member_projects": 6,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: small graph, a few requests, one round ("
        + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in QUICK.items())
        + "; explicit options win)",
    )
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, from: " + ", ".join(BACKENDS),
    )
    parser.add_argument(
        "--queries",
        default=",".join(QUERY_NAMES),
        help="comma-separated, from: "
        + ", ".join(QUERY_NAMES)
        + " (the access-filter comparison runs with nested)",
    )
    parser.add_argument("--requests", type=int, default=400, help="most requests per measurement")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="most seconds per measurement (about)"
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed requests per endpoint (--seconds cap)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=8, help="concurrent workers; 0 or 1: sequential only"
    )
    parser.add_argument("--themes", type=int, default=20)
    parser.add_argument("--projects", type=int, default=25, help="projects per theme")
    parser.add_argument("--institutions", type=int, default=4, help="institutions per project")
    parser.add_argument(
        "--member-projects", type=int, default=20, help="projects the bench researcher is in"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds per measurement (median)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before a backend's run is stopped"
    )
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**QUICK)
        args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not args.backends or set(args.backends) - set(BACKENDS):
        parser.error(f"--backends takes a comma-separated list of {', '.join(BACKENDS)}")
    args.queries = [q.strip() for q in args.queries.split(",") if q.strip()]
    if not args.queries or set(args.queries) - set(QUERY_NAMES):
        parser.error(f"--queries takes a comma-separated list of {', '.join(QUERY_NAMES)}")
    if (
        args.requests < 2
        or args.seconds <= 0
        or args.warmup < 0
        or args.rounds < 1
        or args.member_projects < 2
    ):
        parser.error(
            "--requests and --member-projects must be at least 2, --rounds at least 1,"
            " --seconds positive and --warmup not negative"
        )
    return args


def run_backend(
    backend: str, url: str, tokens: dict[str, str], args: argparse.Namespace, workdir: Path
) -> dict[str, Any] | None:
    out = workdir / f"{backend}.json"
    child = multiprocessing.get_context("spawn").Process(
        target=measuring_process, args=(backend, url, tokens, args, str(out))
    )
    child.start()
    child.join(args.timeout)
    if child.is_alive():
        child.terminate()
        child.join()
        say(f"{backend}: measuring process stopped after the {args.timeout} s time limit")
        return None
    if child.exitcode:
        how = (
            f"killed by signal {-child.exitcode}"
            if child.exitcode < 0
            else f"exit code {child.exitcode}"
        )
        say(f"{backend}: measuring process failed: {how}")
        return None
    results: dict[str, Any] = json.loads(out.read_text())
    return results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    began = time.perf_counter()
    say("command: " + shlex.join([sys.executable, os.path.relpath(__file__), *argv]))
    results: dict[str, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="satreps_bench_") as tmp,
        databases(args.backends, Path(tmp)) as urls,
    ):
        for backend in args.backends:
            url = urls[backend]
            upgrade(url)
            seeded = time.perf_counter()
            counts, tokens = asyncio.run(seed(url, args))
            say(
                f"{backend}: seeded {counts['themes']} themes x {args.projects} projects x "
                f"{args.institutions} institutions: {counts['projects']} projects, "
                f"{counts['project_institutions']} project-institution links, "
                f"{counts['institutions']} institutions, in {time.perf_counter() - seeded:.1f} s"
            )
            figures = run_backend(backend, url, tokens, args, Path(tmp))
            if figures is None:
                return 1
            results[backend] = figures
    summarise(results, args)
    say(f"\nran in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
