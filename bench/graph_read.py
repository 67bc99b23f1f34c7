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
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import json
import multiprocessing
import os
import shlex
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from common import fresh_database
from sqlalchemy import TextClause, event, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.access.auth import ensure_account, issue_token
from server.access.visibility import PUBLIC_PHASES
from server.core.config import Settings
from server.core.db import make_engine, session_factory, utcnow
from server.core.jobs import InProcessJobs
from server.core.pagination import decode_cursor
from server.demo import seed_scaled
from server.http.app import create_app
from server.migrations import upgrade
from server.models import (
    Affiliation,
    ApiToken,
    Project,
    ProjectInstitution,
    ProjectMember,
    Researcher,
)
from server.models.enums import AccountRole, MemberRole

BACKENDS = ("postgresql", "sqlite")
PATHS = ("compiled", "strawberry", "hand-written")
PAGE_SIZE = 50

NESTED_QUERY = (
    "{ themes { id name projects { id title institutions { role institution { id nameEn } } } } }"
)
NODE_QUERY = (
    "query($id: ID!) { node(id: $id) { ... on Project { id title acronym phase startDate "
    "endDate themes { id name } } } }"
)
PAGE_QUERY = (
    f"{{ projects(first: {PAGE_SIZE}) {{ totalCount edges {{ cursor node {{ id title phase }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)


# ---- hand-written SQL: ids --------------------------------------------------------------


def pg_base64(prefix: str, column: str, *, urlsafe: bool = False) -> str:
    """base64 of prefix || column in PostgreSQL (short values: no line breaks)."""
    encoded = f"encode(convert_to('{prefix}' || {column}, 'UTF8'), 'base64')"
    return f"translate({encoded}, '+/', '-_')" if urlsafe else encoded


def sqlite_base64(prefix: str, column: str, *, urlsafe: bool = False, digits: int = 10) -> str:
    """base64 of prefix || column (a non-negative integer of at most `digits` digits) in
    SQLite's SQL: the prefix's whole 3-byte groups are a constant; what is left of it and the
    digits are encoded a 3-byte group at a time, looked up by the group's digits in a blob
    literal of precomputed 4-character groups (a blob: substr on it is by byte offset)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    cut = len(prefix) - len(prefix) % 3
    head = encode(prefix[:cut].encode()).decode()

    # SQLite's parser stack is shallow (the nested query is deep already): no CASTs,
    # length() and substr() of an integer take its digits, '012' * 4 is 48
    def lookup(lead: str, width: int, at: int) -> str:
        table = b"".join(encode(f"{lead}{n:0{width}d}".encode()) for n in range(10**width))
        return f"substr(x'{table.hex()}', substr({column}, {at}, {width}) * 4 + 1, 4)"

    groups = []
    at, lead = 1, prefix[cut:]
    while at <= digits:
        width = 3 - len(lead)  # digits in this group
        cases = [f"WHEN length({column}) >= {at + width - 1} THEN {lookup(lead, width, at)}"]
        cases += [
            f"WHEN length({column}) = {at + short - 1} THEN {lookup(lead, short, at)}"
            for short in range(width - 1, 0, -1)
        ]
        groups.append(f"CASE {' '.join(cases)} ELSE '' END")
        at, lead = at + width, ""
    return f"(CASE WHEN {column} IS NULL THEN NULL ELSE '{head}' || {' || '.join(groups)} END)"


def global_id(dialect: str, type_name: str, column: str) -> str:
    """The relay id strawberry gives: base64("Type:id")."""
    encode = pg_base64 if dialect == "postgresql" else sqlite_base64
    return encode(f"{type_name}:", column)


def cursor(dialect: str, column: str) -> str:
    """server.core.pagination.encode_cursor: urlsafe base64("k1:id")."""
    encode = pg_base64 if dialect == "postgresql" else sqlite_base64
    return encode("k1:", column, urlsafe=True)


# ---- hand-written SQL: the statements ---------------------------------------------------

# Same shape, same order as the GraphQL answers: themes by id, projects by id, links by id.
PG_NESTED = """
SELECT json_build_object('data', json_build_object('themes', coalesce(json_agg(
         json_build_object(
           'id', {theme_id},
           'name', t.name,
           'projects', coalesce(p.projects, '[]'::json))
         ORDER BY t.id), '[]'::json)))::text
FROM themes t
LEFT JOIN LATERAL (
  SELECT json_agg(
           json_build_object(
             'id', {project_id},
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
                 'id', {institution_id},
                 'nameEn', inst.name_en))
             ORDER BY pi.id) AS institutions
    FROM project_institutions pi
    JOIN institutions inst ON inst.id = pi.institution_id
    WHERE pi.project_id = pr.id
  ) i ON true
  WHERE pt.theme_id = t.id
) p ON true
"""

PG_NODE = """
SELECT json_build_object('data', json_build_object('node', (
  SELECT json_build_object(
           'id', {project_id},
           'title', pr.title,
           'acronym', pr.acronym,
           'phase', upper(pr.phase),
           'startDate', pr.start_date,
           'endDate', pr.end_date,
           'themes', coalesce((
             SELECT json_agg(json_build_object('id', {theme_id}, 'name', t.name) ORDER BY t.id)
             FROM project_themes pt JOIN themes t ON t.id = pt.theme_id
             WHERE pt.project_id = pr.id), '[]'::json))
  FROM projects pr WHERE pr.id = :id)))::text
"""

PG_PAGE = """
WITH win AS (
  SELECT id, title, phase FROM projects WHERE id > :after ORDER BY id LIMIT :peek
), page AS (
  SELECT * FROM win ORDER BY id LIMIT :first
)
SELECT json_build_object('data', json_build_object('projects', json_build_object(
  'totalCount', (SELECT count(*) FROM projects),
  'edges', coalesce((
    SELECT json_agg(json_build_object(
             'cursor', {cursor},
             'node', json_build_object('id', {project_id}, 'title', title, 'phase', upper(phase)))
           ORDER BY id)
    FROM page), '[]'::json),
  'pageInfo', json_build_object(
    'hasNextPage', (SELECT count(*) FROM win) > :first,
    'endCursor', (SELECT {end_cursor} FROM page)))))::text
"""

# SQLite 3.40 has no ORDER BY inside aggregates: json_group_array over an ordered subquery
# (SQLite aggregates in the subquery's order); json(...) keeps nested values JSON, not text.
# The ids are computed in CTEs: written at the innermost level, the base64 expression
# overflows SQLite's parser stack.
SQLITE_NESTED = """
WITH theme_rows AS (SELECT id, name, {theme_id} AS gid FROM themes),
project_rows AS (SELECT id, title, {project_id} AS gid FROM projects),
institution_rows AS (SELECT id, name_en, {institution_id} AS gid FROM institutions)
SELECT json_object('data', json_object('themes', json((
  SELECT json_group_array(json(theme)) FROM (
    SELECT json_object(
             'id', t.gid,
             'name', t.name,
             'projects', json((
               SELECT json_group_array(json(project)) FROM (
                 SELECT json_object(
                          'id', pr.gid,
                          'title', pr.title,
                          'institutions', json((
                            SELECT json_group_array(json(link)) FROM (
                              SELECT json_object(
                                       'role', upper(pi.role),
                                       'institution', json_object(
                                         'id', inst.gid,
                                         'nameEn', inst.name_en)) AS link
                              FROM project_institutions pi
                              JOIN institution_rows inst ON inst.id = pi.institution_id
                              WHERE pi.project_id = pr.id
                              ORDER BY pi.id)))) AS project
                 FROM project_themes pt
                 JOIN project_rows pr ON pr.id = pt.project_id
                 WHERE pt.theme_id = t.id
                 ORDER BY pr.id)))) AS theme
    FROM theme_rows t
    ORDER BY t.id)))))
"""

SQLITE_NODE = """
SELECT json_object('data', json_object('node', json((
  SELECT json_object(
           'id', {project_id},
           'title', pr.title,
           'acronym', pr.acronym,
           'phase', upper(pr.phase),
           'startDate', pr.start_date,
           'endDate', pr.end_date,
           'themes', json((
             SELECT json_group_array(json(theme)) FROM (
               SELECT json_object('id', {theme_id}, 'name', t.name) AS theme
               FROM project_themes pt JOIN themes t ON t.id = pt.theme_id
               WHERE pt.project_id = pr.id
               ORDER BY t.id))))
  FROM projects pr WHERE pr.id = :id))))
"""

SQLITE_PAGE = """
WITH win AS (
  SELECT id, title, phase FROM projects WHERE id > :after ORDER BY id LIMIT :peek
), page AS (
  SELECT * FROM win ORDER BY id LIMIT :first
)
SELECT json_object('data', json_object('projects', json_object(
  'totalCount', (SELECT count(*) FROM projects),
  'edges', json((
    SELECT json_group_array(json(edge)) FROM (
      SELECT json_object(
               'cursor', {cursor},
               'node', json_object('id', {project_id}, 'title', title, 'phase', upper(phase)))
             AS edge
      FROM page
      ORDER BY id))),
  'pageInfo', json_object(
    'hasNextPage', json(CASE WHEN (SELECT count(*) FROM win) > :first
                        THEN 'true' ELSE 'false' END),
    'endCursor', (SELECT {end_cursor} FROM page)))))
"""


@dataclass(frozen=True)
class HandSql:
    nested: TextClause
    node: TextClause
    page: TextClause


def hand_sql(dialect: str) -> HandSql:
    nested, node, page = (
        (PG_NESTED, PG_NODE, PG_PAGE)
        if dialect == "postgresql"
        else (SQLITE_NESTED, SQLITE_NODE, SQLITE_PAGE)
    )
    if dialect == "postgresql":
        theme, project, institution = "t.id", "pr.id", "inst.id"
    else:  # SQLite's nested statement computes the ids in CTEs over the tables themselves
        theme = project = institution = "id"
    return HandSql(
        nested=text(
            nested.format(
                theme_id=global_id(dialect, "Theme", theme),
                project_id=global_id(dialect, "Project", project),
                institution_id=global_id(dialect, "Institution", institution),
            )
        ),
        node=text(
            node.format(
                project_id=global_id(dialect, "Project", "pr.id"),
                theme_id=global_id(dialect, "Theme", "t.id"),
            )
        ),
        page=text(
            page.format(
                cursor=cursor(dialect, "id"),
                project_id=global_id(dialect, "Project", "id"),
                end_cursor=cursor(dialect, "max(id)"),
            )
        ),
    )


# ---- the access-filter check (hand-written SQL counts) ----------------------------------


def _public_phases_sql() -> str:
    return ", ".join(f"'{phase.value}'" for phase in PUBLIC_PHASES)


# Theme-project pairs each principal may see, written by hand (not with server.access.visibility):
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
            # "used" in the future: authenticate's once-a-minute last-used UPDATE stays out
            # of the measurements (on SQLite, concurrent requests would race for the lock)
            await session.execute(update(ApiToken).values(last_used_at=utcnow() + ttl))
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


def hand_app(engine: AsyncEngine) -> Starlette:
    """One statement per request; the database's JSON text is the response body. On
    PostgreSQL in autocommit, as the compiled fast path runs its statement: no BEGIN and
    ROLLBACK round trips around it (what is compared is the work around one statement)."""
    sql = hand_sql(engine.dialect.name)
    if engine.dialect.name == "postgresql":
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def answer(statement: TextClause, params: dict[str, Any]) -> Response:
        async with engine.connect() as conn:
            body = (await conn.execute(statement, params)).scalar_one()
        return Response(body, media_type="application/json")

    async def themes(_: Request) -> Response:
        return await answer(sql.nested, {})

    async def project(request: Request) -> Response:
        return await answer(sql.node, {"id": request.path_params["id"]})

    async def projects(request: Request) -> Response:
        first = int(request.query_params.get("first", PAGE_SIZE))
        after = request.query_params.get("after")
        key = decode_cursor(after, "after") if after else 0
        return await answer(sql.page, {"first": first, "peek": first + 1, "after": key})

    return Starlette(
        routes=[
            Route("/themes", themes),
            Route("/projects/{id:int}", project),
            Route("/projects", projects),
        ]
    )


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port of this event loop."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket's proto says TCP; with proto 0 every response written in two
    # parts waited ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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

TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


class StatementCounter:
    """SQL statements run on one engine: the token lookup ("auth") apart from the rest."""

    def __init__(self) -> None:
        self.data = 0
        self.auth = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split(None, 1)
        if words and words[0].upper() in TRANSACTION_CONTROL:
            return
        if "api_tokens" not in statement:
            self.data += 1
        elif "json" in statement.lower():  # the fast path's fused token lookup and data
            self.data += 1
        else:
            self.auth += 1

    def snapshot(self) -> tuple[int, int]:
        return self.data, self.auth


@dataclass
class Stats:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[q - 1] * 1000


def merged(runs: list[Stats]) -> Stats:
    """All latencies of several measurements (for percentiles only)."""
    return Stats(sum(s.requests for s in runs), 1.0, [x for s in runs for x in s.latencies])


Send = Callable[[], Awaitable[httpx.Response]]


async def measure(send: Send, requests: int, concurrency: int, seconds: float) -> Stats:
    """`concurrency` workers sending until `requests` are sent or `seconds` have passed
    (at least two requests, so that there is a median)."""
    latencies: list[float] = []
    started = 0
    began = time.perf_counter()
    deadline = began + seconds

    async def worker() -> None:
        nonlocal started
        while started < requests and (started < 2 or time.perf_counter() < deadline):
            started += 1
            sent = time.perf_counter()
            response = await send()
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(max(concurrency, 1))))
    return Stats(len(latencies), time.perf_counter() - began, latencies)


# ---- checking --------------------------------------------------------------------------


def normalise_nested(data: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Themes, theme-project pairs and project-institution links as sorted multisets."""
    themes = data["themes"]
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


def normalise_node(data: dict[str, Any]) -> Any:
    node = data["node"]
    if node is None:
        return None
    return {**node, "themes": sorted((t["id"], t["name"]) for t in node["themes"])}


def normalise_page(data: dict[str, Any]) -> Any:
    return data


def describe_nested(data: dict[str, Any]) -> str:
    counts = {name: len(rows) for name, rows in normalise_nested(data).items()}
    return (
        f"{count_objects(data['themes'])} objects ({counts['themes']} themes, "
        f"{counts['projects']} projects, {counts['links']} institution links each with its "
        "institution)"
    )


def describe_node(data: dict[str, Any]) -> str:
    return f"a project with {len(data['node']['themes'])} themes"


def describe_page(data: dict[str, Any]) -> str:
    page = data["projects"]
    return f"{len(page['edges'])} of {page['totalCount']} projects"


def count_objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0


@dataclass(frozen=True)
class Query:
    key: str
    title: str
    document: str
    variables: dict[str, Any]
    hand_path: str
    normalise: Callable[[dict[str, Any]], Any]
    describe: Callable[[dict[str, Any]], str]


def queries(project_id: int) -> list[Query]:
    project_gid = base64.b64encode(f"Project:{project_id}".encode()).decode()
    return [
        Query(
            "nested",
            "big nested query (themes > projects > institutions)",
            NESTED_QUERY,
            {},
            "/themes",
            normalise_nested,
            describe_nested,
        ),
        Query(
            "node",
            f"node(id) of Project {project_id}",
            NODE_QUERY,
            {"id": project_gid},
            f"/projects/{project_id}",
            normalise_node,
            describe_node,
        ),
        Query(
            "page",
            f"connection page, projects(first: {PAGE_SIZE})",
            PAGE_QUERY,
            {},
            f"/projects?first={PAGE_SIZE}",
            normalise_page,
            describe_page,
        ),
    ]


def data_of(path: str, response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.status_code != 200 or "errors" in body or "data" not in body:
        raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    data: dict[str, Any] = body["data"]
    return data


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


PRINCIPALS = ("anonymous", "researcher", "admin")
ANONYMOUS_PATH = "compiled anon"  # the compiled path without a token to look up


async def measure_backend(
    backend: str, url: str, tokens: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    # each path its own app and engine, so its statements are counted apart
    paths = (*PATHS, ANONYMOUS_PATH)
    engines = {path: make_engine(url) for path in paths}
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
    try:
        async with engines["hand-written"].connect() as conn:
            project_id = (
                await conn.exec_driver_sql(
                    "SELECT pt.project_id FROM project_themes pt"
                    " JOIN projects pr ON pr.id = pt.project_id"
                    f" WHERE pr.phase IN ({_public_phases_sql()})"  # anonymous sees it too
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


async def bench_principals(
    args: argparse.Namespace, senders: dict[str, Send], expected: dict[str, int]
) -> None:
    """The nested query as anonymous, researcher and admin: answers checked, then measured
    in interleaved rounds; the verdict compares the filtered to the unfiltered (admin)."""
    say(
        "\npostgresql: access filters, the nested query as anonymous, researcher and admin"
        " (compiled app, rate limits off)"
    )
    pairs: dict[str, int] = {}
    for name, send in senders.items():
        data = data_of(name, await send())
        pairs[name] = sum(len(t["projects"]) for t in data["themes"])
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
        await measure(send, args.warmup, 1, args.seconds)

    modes = [("sequential", 1)]
    if args.concurrency > 1:
        modes.append((f"concurrency {args.concurrency}", args.concurrency))
    verdicts = []
    for title, concurrency in modes:
        runs: dict[str, list[Stats]] = {name: [] for name in senders}
        for _ in range(args.rounds):
            for name, send in senders.items():
                runs[name].append(await measure(send, args.requests, concurrency, args.seconds))
        rps = {name: statistics.median(s.rps for s in stats) for name, stats in runs.items()}
        say(
            f"\n  {title}, median of {args.rounds} rounds, each up to {args.requests} requests"
            f" / {args.seconds} s"
        )
        say(
            f"  {'principal':<11} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'pairs':>6} "
            f"{'vs admin':>9} {'per pair vs admin':>18}"
        )
        for name in senders:
            latencies = merged(runs[name])
            ratio = rps[name] / rps["admin"]
            per_pair = (rps[name] * pairs[name]) / (rps["admin"] * pairs["admin"])
            say(
                f"  {name:<11} {rps[name]:>8.1f} {latencies.percentile(50):>8.1f} "
                f"{latencies.percentile(99):>8.1f} {pairs[name]:>6d} {ratio:>8.3f}x "
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


def say(text: str) -> None:
    print(text, flush=True)


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
