"""Benchmark: the nested graph read through GraphQL against one hand-written SQL query.

    .venv/bin/python bench/graph_read.py [--requests 200] [--concurrency 8]

The parent process creates a uniquely named PostgreSQL database (dropped at the end,
whatever happens), migrates it and seeds a synthetic graph (`server.demo.seed_scaled`: by
default 20 themes x 25 projects x 4 institutions). A child process then serves two apps
with uvicorn on free loopback ports and drives them with one httpx client:

- graphql: `server.app.create_app` (rate limits off), queried as an admin with a bearer token;
- plain:   a Starlette endpoint answering the same data from ONE PostgreSQL statement
           built with json_agg / json_build_object (no authentication, no Python JSON).

Both answers are compared as normalised multisets before any timing. Then each endpoint
gets a warm-up and N sequential requests (and N more from C concurrent workers). SQL
statements per GraphQL request are counted with a `before_cursor_execute` listener on the
GraphQL app's engine.

Access filters (issue 6): the same nested query as anonymous, as a researcher and as an
admin. The admin's reads are unfiltered (`project_visible` is `true` for staff); anonymous
callers get the phase filter, the researcher the phase filter OR membership OR one of their
institutions' projects (a bench researcher who is a member of `--member-projects` projects,
half of them before approval, and affiliated with one institution). Each principal's answer
is checked against hand-written SQL counts first; then the three are measured in
`--rounds` interleaved rounds (sequential, then concurrent) and the median req/s reported,
with the ratios to the admin's. The filters cost at most 20% of throughput when both
filtered principals reach 0.8 of the admin's req/s. The filtered answers are smaller (fewer
projects), so the same ratio is also given per project returned.

Why a child process: a crash or a hang of the servers must not leave the database behind
(the parent drops it and reports the exit status). On CPython 3.11.7, migrating, seeding
and serving in one process ended in a segmentation fault every time; on 3.12 (what the
project now requires) it has not, but the separation costs nothing and keeps it safe.

Client, servers and PostgreSQL share the machine: absolute numbers are only comparable
between runs on the same machine; the ratio is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.access import PUBLIC_PHASES
from server.app import create_app
from server.auth import ensure_account, issue_token
from server.config import Settings
from server.db import make_engine, session_factory
from server.demo import seed_scaled
from server.migrations import upgrade
from server.models import Affiliation, Project, ProjectInstitution, ProjectMember, Researcher
from server.models.enums import AccountRole, MemberRole

PG_ADMIN_URL = os.environ.get(
    "SATREPS_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
GRAPHQL_QUERY = (
    "{ themes { id name projects { id title institutions { role institution { id nameEn } } } } }"
)


def _global_id(type_name: str, column: str) -> str:
    """The relay id strawberry gives: base64("Type:id") (short: no line breaks)."""
    return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"


# Same shape, same order as the GraphQL answer: themes by id, projects by id, links by id.
PLAIN_SQL = f"""
SELECT json_build_object('data', json_build_object('themes', coalesce(json_agg(
         json_build_object(
           'id', {_global_id("Theme", "t.id")},
           'name', t.name,
           'projects', coalesce(p.projects, '[]'::json))
         ORDER BY t.id), '[]'::json)))::text
FROM themes t
LEFT JOIN LATERAL (
  SELECT json_agg(
           json_build_object(
             'id', {_global_id("Project", "pr.id")},
             'title', pr.title,
             'institutions', coalesce(i.institutions, '[]'::json))
           ORDER BY pr.id) AS projects
  FROM project_themes pt
  JOIN projects pr ON pr.id = pt.project_id
  LEFT JOIN LATERAL (
    SELECT json_agg(
             json_build_object(
               'role', upper(pi.role),
               'institution', json_build_object(
                 'id', {_global_id("Institution", "inst.id")},
                 'nameEn', inst.name_en))
             ORDER BY pi.id) AS institutions
    FROM project_institutions pi
    JOIN institutions inst ON inst.id = pi.institution_id
    WHERE pi.project_id = pr.id
  ) i ON true
  WHERE pt.theme_id = t.id
) p ON true
"""


def _public_phases_sql() -> str:
    return ", ".join(f"'{phase.value}'" for phase in PUBLIC_PHASES)


# Theme-project pairs each principal may see, written by hand (not with server.access):
# anonymous: public phases; researcher: that OR a member OR one of their institutions takes
# part; admin: all.
VISIBLE_PAIRS_SQL = """
SELECT count(*) FROM project_themes pt JOIN projects pr ON pr.id = pt.project_id
WHERE {condition}
"""
PUBLIC_CONDITION = "pr.phase IN ({phases})"
RESEARCHER_CONDITION = (
    PUBLIC_CONDITION
    + " OR pr.id IN (SELECT project_id FROM project_members WHERE researcher_id = {rid})"
    " OR pr.id IN (SELECT pi.project_id FROM project_institutions pi JOIN affiliations a"
    " ON a.institution_id = pi.institution_id WHERE a.researcher_id = {rid}"
    " AND a.end_date IS NULL)"
)


async def expected_pairs(engine: AsyncEngine) -> dict[str, int]:
    phases = _public_phases_sql()
    async with engine.connect() as conn:
        rid = (
            await conn.exec_driver_sql(
                "SELECT id FROM researchers WHERE name_en = 'Bench Researcher'"
            )
        ).scalar_one()
        conditions = {
            "anonymous": PUBLIC_CONDITION.format(phases=phases),
            "researcher": RESEARCHER_CONDITION.format(phases=phases, rid=rid),
            "admin": "true",
        }
        return {
            name: (
                await conn.exec_driver_sql(VISIBLE_PAIRS_SQL.format(condition=condition))
            ).scalar_one()
            for name, condition in conditions.items()
        }


# ---- database lifecycle ----------------------------------------------------------------


async def _admin(sql: str) -> None:
    engine = make_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, uniquely named database, dropped on the way out whatever happened."""
    name = f"satreps_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        say(f"dropped database {name}")


async def seed(url: str, args: argparse.Namespace) -> tuple[dict[str, int], dict[str, str]]:
    """The scaled graph, a bench researcher and the tokens by principal, committed."""
    engine = make_engine(url)
    ttl = dt.timedelta(hours=2)
    try:
        async with session_factory(engine)() as session:
            counts = await seed_scaled(
                session,
                themes=args.themes,
                projects_per_theme=args.projects,
                institutions_per_project=args.institutions,
            )
            await session.flush()
            researcher_id = await add_bench_researcher(session, args.member_projects)
            admin = await ensure_account(session, "bench-admin", AccountRole.ADMIN)
            researcher = await ensure_account(
                session, "bench-researcher", AccountRole.RESEARCHER, researcher_id=researcher_id
            )
            tokens = {"anonymous": ""}
            for name, account in (("researcher", researcher), ("admin", admin)):
                _, tokens[name] = await issue_token(session, account, ttl=ttl)
            await session.commit()
    finally:
        await engine.dispose()
    return counts, tokens


async def add_bench_researcher(session: Any, member_projects: int) -> int:
    """A researcher affiliated with the institution in the fewest projects, a member of
    `member_projects` projects: half before approval (visible to them only as members),
    half after."""
    # the institution in the fewest projects: its projects add a few to what members see
    institution_id = await session.scalar(
        select(ProjectInstitution.institution_id)
        .group_by(ProjectInstitution.institution_id)
        .order_by(func.count(), ProjectInstitution.institution_id)
        .limit(1)
    )
    person = Researcher(name_en="Bench Researcher", email="bench@example.org")
    session.add(person)
    await session.flush()
    session.add(Affiliation(researcher_id=person.id, institution_id=institution_id))
    hidden = await session.scalars(
        select(Project.id)
        .where(Project.phase.not_in(PUBLIC_PHASES))
        .order_by(Project.id)
        .limit(member_projects // 2)
    )
    public = await session.scalars(
        select(Project.id)
        .where(Project.phase.in_(PUBLIC_PHASES))
        .order_by(Project.id)
        .limit(member_projects - member_projects // 2)
    )
    session.add_all(
        ProjectMember(project_id=pid, researcher_id=person.id, role=MemberRole.MEMBER)
        for pid in [*hidden, *public]
    )
    await session.flush()
    return int(person.id)


# ---- servers ---------------------------------------------------------------------------


def plain_app(engine: AsyncEngine) -> Starlette:
    async def themes(_: Request) -> Response:
        async with engine.connect() as conn:
            body = (await conn.exec_driver_sql(PLAIN_SQL)).scalar_one()
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/themes", themes)])


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port of this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# ---- measuring -------------------------------------------------------------------------


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: Any) -> None:
        self.count += 1


@dataclass
class Stats:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: int) -> float:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[q - 1] * 1000


Send = Callable[[], Awaitable[httpx.Response]]


async def timed(send: Send, latencies: list[float], count: int) -> None:
    for _ in range(count):
        began = time.perf_counter()
        response = await send()
        latencies.append(time.perf_counter() - began)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")


async def measure(send: Send, requests: int, concurrency: int) -> Stats:
    latencies: list[float] = []
    shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]
    began = time.perf_counter()
    await asyncio.gather(*(timed(send, latencies, share) for share in shares))
    return Stats(requests, time.perf_counter() - began, latencies)


# ---- checking --------------------------------------------------------------------------


def normalise(body: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Themes, theme-project pairs and project-institution links as sorted multisets."""
    themes = body["data"]["themes"]
    projects = [(t["id"], p["id"], p["title"]) for t in themes for p in t["projects"]]
    links = [
        (t["id"], p["id"], link["role"], link["institution"]["id"], link["institution"]["nameEn"])
        for t in themes
        for p in t["projects"]
        for link in p["institutions"]
    ]
    return {
        "themes": sorted((t["id"], t["name"]) for t in themes),
        "projects": sorted(projects),
        "links": sorted(links),
    }


def count_objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0


# ---- the run ---------------------------------------------------------------------------


def _row(label: str, stats: Stats) -> str:
    return (
        f"  {label:<8} {stats.rps:>9.1f} {stats.percentile(50):>9.1f} "
        f"{stats.percentile(99):>9.1f} {stats.requests:>9d}"
    )


def report(title: str, graphql: Stats, plain: Stats) -> None:
    say(f"\n{title}")
    say(f"  {'endpoint':<8} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'requests':>9}")
    say(_row("graphql", graphql))
    say(_row("plain", plain))
    say(
        f"  ratio graphql/plain: req/s {graphql.rps / plain.rps:.3f}x, "
        f"p50 {graphql.percentile(50) / plain.percentile(50):.1f}x, "
        f"p99 {graphql.percentile(99) / plain.percentile(99):.1f}x"
    )


async def compare(
    gql_send: Send, plain_send: Send, counter: StatementCounter
) -> tuple[dict[str, int], int, int]:
    """Check both answers hold the same data; returns (object counts, statements, bytes)."""
    before = counter.count
    gql_response = await gql_send()
    statements = counter.count - before
    plain_response = await plain_send()
    gql_body, plain_body = gql_response.json(), plain_response.json()
    if "errors" in gql_body:
        raise RuntimeError(f"GraphQL errors: {gql_body['errors']}")
    expected = normalise(gql_body)
    if expected != normalise(plain_body):
        raise RuntimeError("the GraphQL and plain answers differ")
    objects = {name: len(rows) for name, rows in expected.items()}
    objects["total"] = count_objects(gql_body["data"]["themes"])
    return objects, statements, len(gql_response.content)


PRINCIPALS = ("anonymous", "researcher", "admin")


async def measure_all(url: str, tokens: dict[str, str], args: argparse.Namespace) -> None:
    engine, plain_engine = make_engine(url), make_engine(url)
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    # no rate limits: thousands of requests from one account and one address
    settings = Settings(database_url=url, rate_limit_points=0, rate_limit_anonymous_points=0)
    app = create_app(settings, sessions=session_factory(engine))
    try:
        async with (
            serving(app) as gql_url,
            serving(plain_app(plain_engine)) as plain_url,
            httpx.AsyncClient(timeout=60) as client,
        ):

            def sender(principal: str) -> Send:
                token = tokens[principal]
                headers = {"Authorization": f"Bearer {token}"} if token else {}

                def send() -> Awaitable[httpx.Response]:
                    return client.post(
                        f"{gql_url}/graphql", json={"query": GRAPHQL_QUERY}, headers=headers
                    )

                return send

            def plain_send() -> Awaitable[httpx.Response]:
                return client.get(f"{plain_url}/themes")

            senders = {name: sender(name) for name in PRINCIPALS}
            await bench(args, senders["admin"], plain_send, counter)
            await bench_principals(args, senders, await expected_pairs(plain_engine))
    finally:
        await engine.dispose()
        await plain_engine.dispose()


async def bench(
    args: argparse.Namespace, gql_send: Send, plain_send: Send, counter: StatementCounter
) -> None:
    objects, statements, size = await compare(gql_send, plain_send, counter)
    say(
        f"answers match (normalised themes, projects, links); response: {objects['total']} "
        f"objects ({objects['themes']} themes, {objects['projects']} projects, "
        f"{objects['links']} institution links each with its institution), {size / 1024:.0f} KiB"
    )
    say(f"SQL statements per GraphQL request: {statements}")

    for send in (gql_send, plain_send):
        await measure(send, args.warmup, 1)
    before = counter.count
    graphql = await measure(gql_send, args.requests, 1)
    per_request = (counter.count - before) / args.requests
    plain = await measure(plain_send, args.requests, 1)
    report(f"sequential, one client ({per_request:.1f} SQL statements/request)", graphql, plain)

    if args.concurrency > 1:
        graphql = await measure(gql_send, args.requests, args.concurrency)
        plain = await measure(plain_send, args.requests, args.concurrency)
        report(f"concurrency {args.concurrency}", graphql, plain)


async def bench_principals(
    args: argparse.Namespace, senders: dict[str, Send], expected: dict[str, int]
) -> None:
    """The nested query as anonymous, researcher and admin: answers checked, then measured
    in interleaved rounds; the verdict compares the filtered to the unfiltered (admin)."""
    say("\naccess filters: the same query as anonymous, researcher and admin (rate limits off)")
    pairs: dict[str, int] = {}
    for name, send in senders.items():
        response = await send()
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            raise RuntimeError(f"{name}: HTTP {response.status_code} {response.text[:300]}")
        pairs[name] = sum(len(t["projects"]) for t in body["data"]["themes"])
        if pairs[name] != expected[name]:
            raise RuntimeError(
                f"{name} sees {pairs[name]} theme-project pairs, SQL says {expected[name]}"
            )
    if not pairs["anonymous"] < pairs["researcher"] <= pairs["admin"]:
        raise RuntimeError(f"the filters do not tell the principals apart: {pairs}")
    say(
        "  answers checked against hand-written SQL: theme-project pairs "
        + ", ".join(f"{name} {count}" for name, count in pairs.items())
    )
    for send in senders.values():
        await measure(send, args.warmup, 1)

    modes = [("sequential", 1)]
    if args.concurrency > 1:
        modes.append((f"concurrency {args.concurrency}", args.concurrency))
    verdicts = []
    for title, concurrency in modes:
        runs: dict[str, list[Stats]] = {name: [] for name in senders}
        for _ in range(args.rounds):
            for name, send in senders.items():
                runs[name].append(await measure(send, args.requests, concurrency))
        rps = {name: statistics.median(s.rps for s in stats) for name, stats in runs.items()}
        say(f"\n  {title}, median of {args.rounds} rounds x {args.requests} requests")
        say(
            f"  {'principal':<11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'pairs':>6} "
            f"{'vs admin':>9} {'per pair vs admin':>18}"
        )
        for name in senders:
            latencies = [x for s in runs[name] for x in s.latencies]
            merged = Stats(len(latencies), 1.0, latencies)
            ratio = rps[name] / rps["admin"]
            per_pair = (rps[name] * pairs[name]) / (rps["admin"] * pairs["admin"])
            say(
                f"  {name:<11} {rps[name]:>8.1f} {merged.percentile(50):>8.1f} "
                f"{merged.percentile(99):>8.1f} {pairs[name]:>6d} {ratio:>8.3f}x "
                f"{per_pair:>17.3f}x"
            )
        say(
            f"  researcher/anonymous {rps['researcher'] / rps['anonymous']:.3f}x, "
            f"admin/anonymous {rps['admin'] / rps['anonymous']:.3f}x"
        )
        worst = min(rps["anonymous"], rps["researcher"]) / rps["admin"]
        verdicts.append((title, worst))
    say("")
    for title, worst in verdicts:
        met = "MET" if worst >= 0.8 else "MISSED"
        say(
            f"  target (filtered >= 0.8 x unfiltered req/s), {title}: {met} "
            f"(slowest filtered principal at {worst:.3f}x the admin)"
        )


def measuring_process(url: str, tokens: dict[str, str], args: argparse.Namespace) -> None:
    """Servers and client, in a child process: if the server crashes, the parent still
    drops the database and says so."""
    asyncio.run(measure_all(url, tokens, args))


def say(text: str) -> None:
    print(text, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per endpoint")
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
        "--rounds", type=int, default=3, help="interleaved rounds per principal (median)"
    )
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds before the measuring is stopped"
    )
    args = parser.parse_args()
    if args.requests < 2 or args.warmup < 0 or args.rounds < 1 or args.member_projects < 2:
        parser.error(
            "--requests and --member-projects must be at least 2, --rounds at least 1"
            " and --warmup not negative"
        )
    return args


def main() -> int:
    args = parse_args()
    with fresh_database() as url:
        upgrade(url)
        began = time.perf_counter()
        counts, tokens = asyncio.run(seed(url, args))
        say(
            f"seeded {counts['themes']} themes x {args.projects} projects x "
            f"{args.institutions} institutions: {counts['projects']} projects, "
            f"{counts['project_institutions']} project-institution links, "
            f"{counts['institutions']} institutions, in {time.perf_counter() - began:.1f} s"
        )
        child = multiprocessing.get_context("spawn").Process(
            target=measuring_process, args=(url, tokens, args)
        )
        child.start()
        child.join(args.timeout)
        if child.is_alive():
            child.terminate()
            child.join()
            say(f"measuring process stopped after the {args.timeout} s time limit")
            return 1
        if child.exitcode:
            how = (
                f"killed by signal {-child.exitcode}"
                if child.exitcode < 0
                else f"exit code {child.exitcode}"
            )
            say(f"measuring process failed: {how}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
