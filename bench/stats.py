"""Benchmark: programme analytics and search through GraphQL on a programme-sized database.

    .venv/bin/python bench/stats.py [--projects 10000] [--datasets 200000] [--requests 40]

Creates a uniquely named PostgreSQL database (dropped at the end, whatever happens),
migrates it (so the search triggers of migration 0006 gather every row as it arrives; the
documents are analysed once loaded, as a session's flush would: migration 0016) and
fills it with COPY: institutions, researchers, projects with themes, partner countries,
institutions and members, expert dispatches, training, equipment, PDM indicators,
evaluations, datasets of every access level with a version and an upload each (one in 50
profiled, so column names are searchable). The materialised figures are then rebuilt once,
as the worker cron does (`refresh_stats`), and the time it takes is printed.

Then `server.http.app.create_app` (rate limits off) answers in this process through
httpx's ASGI transport, as a program manager (all metadata) and as anonymous (public only):
themeStats unfiltered and filtered, collaborationNetwork, and search. Each query gets a
warm-up and N sequential requests; p50 and p99 are printed, with the ratio to a baseline
measured the same way: `{ themes { id name } }`, the cheapest GraphQL read (what the
endpoint itself costs). Target: each p50 <= 100 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import statistics
import sys
import time
from typing import Any

import asyncpg
import httpx
from common import fresh_database

from server.access.auth import ensure_account, issue_token
from server.analytics import refresh_stats
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.http.app import create_app
from server.migrations import upgrade
from server.models.datasets import path_key
from server.models.enums import AccountRole
from server.search.documents import refresh as refresh_search

DATA_KEY = path_key("data.csv")  # every dataset of the bench holds one data.csv
PARTNERS = ["TH", "ID", "PH", "VN", "KE", "BR", "MX", "PE", "BD", "LK", "MY", "MN", "EG", "TZ"]
WORDS = (
    "flood rainfall drought landslide earthquake tsunami malaria dengue rice soil forest "
    "carbon mangrove fishery groundwater volcano biomass solar geothermal cholera coral "
    "monsoon river delta sediment crop vaccine pathogen peat wildfire glacier"
).split()
PUBLIC = ["approved", "planning", "implementation", "completed", "follow_up", "ex_post_evaluated"]
FIGURES = (
    "projects institutions japaneseInstitutions partnerInstitutions thirdCountryInstitutions "
    "researchers expertDispatches expertPersonMonths expertsByOrigin { countryCode dispatches "
    "personMonths } trainingParticipants equipmentValues { currency amount } indicators indicatorsOnTrack "
    "evaluations ratings { criterion rating count } datasets versions bytesStored uploadsReady "
    "uploadsFailed"
)
BY_THEME = "byTheme { theme { id name } figures { projects datasets bytesStored } }"
QUERIES = {
    "baseline {themes}": ("{ themes { id name } }", {}),
    "themeStats unfiltered": (
        f"query($f: StatsFilter) {{ themeStats(filter: $f) {{ totals {{ {FIGURES} }} {BY_THEME} }} }}",
        {},
    ),
    "themeStats filtered": (
        f"query($f: StatsFilter) {{ themeStats(filter: $f) {{ totals {{ {FIGURES} }} {BY_THEME} }} }}",
        {
            "f": {
                "countries": ["TH", "ID"],
                "phases": ["IMPLEMENTATION", "COMPLETED"],
                "years": [2018, 2019, 2020],
            }
        },
    ),
    "themeStats matrix": (
        "{ themeStats { matrix { theme { id } countryCode projects datasets } } }",
        {},
    ),
    "collaborationNetwork": (
        "{ collaborationNetwork { nodes { id name countryCode side projects } "
        "edges { source target sharedProjects sharedDatasets japanPartner weight } } }",
        {},
    ),
}
SEARCHES = ["flood", "rainfall mangrove", "kyoto", "univ", "precipitation", "京都大学"]
SEARCH = (
    "query($q: String!) { search(query: $q, first: 20) { totalCount edges { rank highlight "
    "type node { __typename ... on Project { title } ... on Dataset { title } "
    "... on Institution { nameEn } ... on Researcher { nameEn } } } } }"
)


def say(message: str) -> None:
    print(message, flush=True)


# ---- the world ------------------------------------------------------------------------------


class Rows:
    """Rows per table, made with one seeded random generator."""

    def __init__(self, projects: int, datasets: int) -> None:
        self.r = random.Random(7)
        self.now = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        self.tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]] = {}
        self.institutions(max(200, projects // 10))
        self.researchers(max(1000, projects // 2))
        self.projects(projects)
        self.datasets(datasets)

    def add(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        self.tables[table] = (columns.split(), rows)

    def title(self, n: int) -> str:
        return " ".join(self.r.choice(WORDS) for _ in range(n)).capitalize()

    def institutions(self, n: int) -> None:
        rows = []
        for i in range(1, n + 1):
            country = "JP" if i % 3 == 0 else self.r.choice(PARTNERS)
            local = "京都大学" if i == 3 else None
            name = "Kyoto University" if i == 3 else f"{self.title(2)} University {i}"
            rows.append((i, name, local, country, "university", self.now, self.now))
        self.japanese = [i for i, *_ in rows if rows[i - 1][3] == "JP"]
        self.partner = [i for i, *_ in rows if rows[i - 1][3] != "JP"]
        self.n_institutions = n
        self.add(
            "institutions", "id name_en name_local country_code kind created_at updated_at", rows
        )

    def researchers(self, n: int) -> None:
        self.n_researchers = n
        rows = [(i, f"Researcher {self.title(1)} {i}", self.now) for i in range(1, n + 1)]
        self.add("researchers", "id name_en created_at", rows)

    def projects(self, n: int) -> None:
        r = self.r
        projects, themes, countries, links, members = [], [], [], [], []
        dispatches, courses, participants, equipment, elements, indicators, measures = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        evaluations = []
        self.project_starts: dict[int, dt.date] = {}
        for p in range(1, n + 1):
            start = dt.date(r.randint(2008, 2024), r.randint(1, 12), 1)
            end = start + dt.timedelta(days=5 * 365)
            phase = r.choice(PUBLIC) if r.random() < 0.9 else "requested"
            self.project_starts[p] = start
            projects.append(
                (p, self.title(5), self.title(20), start, end, phase, self.now, self.now)
            )
            for t in r.sample([2, 3, 4, 5, 6], r.choice([1, 1, 2])):
                themes.append((p, t))
            country = r.choice(PARTNERS)
            countries.append((p, country))
            jp = r.sample(self.japanese, 2)
            pa = r.sample(self.partner, 2)
            roles = ["japanese_lead", "japanese_participant", "partner_lead", "partner_participant"]
            for k, (inst, role) in enumerate(zip(jp + pa, roles, strict=True)):
                links.append((p * 4 + k, p, inst, role))
            for k, res in enumerate(r.sample(range(1, self.n_researchers + 1), 5)):
                members.append((p * 5 + k, p, res, "member"))
            for k in range(2):
                d0 = start + dt.timedelta(days=r.randint(0, 1000))
                dispatches.append(
                    (
                        p * 2 + k,
                        p,
                        r.randint(1, self.n_researchers),
                        r.choice(["JP", "US"]),
                        pa[0],
                        d0,
                        d0 + dt.timedelta(days=r.randint(10, 200)),
                        self.now,
                    )
                )
            courses.append((p, p, "Course", "in_country", country, start, self.now))
            for res in r.sample(range(1, self.n_researchers + 1), 5):
                participants.append((p, res, pa[1]))
            equipment.append(
                (p, p, "Instrument", 1, r.randint(1000, 90000), pa[0], "in_use", self.now)
            )
            elements.append((p, p, "output", 0, "Output"))
            for k in range(2):
                i = p * 2 + k
                indicators.append((i, p, "Indicator", "%", 0, 100))
                when = start + dt.timedelta(days=r.randint(100, 1500))
                measures.append((i, i, when, r.randint(0, 100), "%", self.now))
            if phase in ("completed", "ex_post_evaluated"):
                evaluations.append(
                    (p, p, "terminal", end, r.choice("ABCD"), r.choice("ABCD"), self.now)
                )
        self.n_projects = n
        self.add(
            "projects", "id title summary start_date end_date phase created_at updated_at", projects
        )
        self.add("project_themes", "project_id theme_id", themes)
        self.add("project_countries", "project_id country_code", countries)
        self.add("project_institutions", "id project_id institution_id role", links)
        self.add("project_members", "id project_id researcher_id role", members)
        self.add(
            "expert_dispatches",
            "id project_id expert_id origin_country host_institution_id start_date end_date "
            "created_at",
            dispatches,
        )
        self.add(
            "training_courses",
            "id project_id title course_type host_country start_date created_at",
            courses,
        )
        self.add("training_participants", "course_id researcher_id institution_id", participants)
        self.add(
            "equipment_items",
            "id project_id item quantity value recipient_institution_id status created_at",
            equipment,
        )
        self.add("pdm_elements", "id project_id level position description", elements)
        self.add("indicators", "id element_id description unit baseline target", indicators)
        self.add(
            "indicator_measurements",
            "id indicator_id measured_on value unit created_at",
            measures,
        )
        self.add(
            "evaluations",
            "id project_id kind evaluated_on relevance effectiveness created_at",
            evaluations,
        )
        self.links = links

    def datasets(self, n: int) -> None:
        r = self.r
        datasets, versions, uploads, files = [], [], [], []
        levels = ["public"] * 6 + ["project"] * 2 + ["institution", "embargoed"]
        for d in range(1, n + 1):
            p = r.randint(1, self.n_projects)
            owner = self.links[(p - 1) * 4 + r.randint(0, 3)][2]
            level = r.choice(levels)
            embargo = dt.date(2030, 1, 1) if level == "embargoed" else None
            keywords = json.dumps([r.choice(WORDS), r.choice(WORDS)])
            datasets.append(
                (
                    d,
                    p,
                    owner,
                    self.title(4),
                    self.title(12),
                    keywords,
                    "CC-BY-4.0",
                    level,
                    embargo,
                    self.now,
                    self.now,
                )
            )
            published = r.random() < 0.7
            at = (
                dt.datetime.combine(self.project_starts[p], dt.time(), dt.UTC)
                + dt.timedelta(days=r.randint(30, 1500))
                if published
                else None
            )
            versions.append((d, d, 1, "published" if published else "draft", self.now, at))
            state = "ready" if r.random() < 0.9 else "failed"
            size = r.randint(1_000, 50_000_000)
            uploads.append(
                (
                    d,
                    d,
                    "data.csv",
                    "data.csv",
                    DATA_KEY,
                    f"raw/{d}",
                    size,
                    state,
                    0,
                    size if state == "ready" else None,
                    self.now,
                    self.now,
                )
            )
            if d % 50 == 0:
                profile = json.dumps(
                    {"rows": 10, "columns": [{"name": "precipitation_mm"}, {"name": "station"}]}
                )
                files.append(
                    (d, d, d, "data.csv", "data.csv", DATA_KEY, size, "0" * 64, f"raw/{d}")
                    + (profile, self.now)
                )
        self.add(
            "datasets",
            "id project_id owner_institution_id title description keywords licence access_level "
            "embargo_until created_at updated_at",
            datasets,
        )
        self.add("dataset_versions", "id dataset_id number state created_at published_at", versions)
        self.add(
            "uploads",
            "id version_id filename path path_key object_key declared_size state attempts size"
            " created_at "
            "updated_at",
            uploads,
        )
        self.add(
            "dataset_files",
            "id version_id upload_id name path path_key size sha256 raw_key profile created_at",
            files,
        )


async def load(url: str, rows: Rows) -> None:
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        for table, (columns, records) in rows.tables.items():
            started = time.perf_counter()
            await conn.copy_records_to_table(table, records=records, columns=columns)
            took = time.perf_counter() - started
            say(f"  {table:24} {len(records):>8} rows  {took:6.1f} s")
        for table, (_, records) in rows.tables.items():
            if records and isinstance(records[0][0], int) and "id" in rows.tables[table][0][:1]:
                await conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {len(records) + 1})"
                )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


# ---- measuring ------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def timed(
    client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any]
) -> float:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.perf_counter()
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    took = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise SystemExit(f"query failed: {response.status_code} {body.get('errors')}")
    return took * 1000


async def measure(url: str, requests: int) -> bool:
    engine = make_engine(url)
    sessions = session_factory(engine)
    async with sessions() as session:
        started = time.perf_counter()
        await refresh_stats(session)
        await session.commit()
        say(f"refresh_stats (the worker cron's job): {time.perf_counter() - started:.1f} s")
    async with engine.begin() as conn:  # COPY wrote no session: the search terms (0016)
        started = time.perf_counter()
        await conn.run_sync(refresh_search)
        say(f"search documents analysed: {time.perf_counter() - started:.1f} s")
    async with sessions() as session:
        pm = await ensure_account(session, "bench-pm", AccountRole.PROGRAM_MANAGER)
        _, pm_token = await issue_token(session, pm, ttl=dt.timedelta(hours=2))
        await session.commit()
    settings = Settings(database_url=url, rate_limit_points=0, rate_limit_anonymous_points=0)
    app = create_app(settings, sessions=sessions)
    ok = True
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", timeout=120
            ) as client:
                cases: list[tuple[str, str, str, list[dict[str, Any]]]] = []
                for name, (query, variables) in QUERIES.items():
                    cases.append((name, "program manager", query, [variables]))
                cases.append(
                    (
                        "themeStats unfiltered",
                        "anonymous",
                        QUERIES["themeStats unfiltered"][0],
                        [{}],
                    )
                )
                cases.append(("search", "program manager", SEARCH, [{"q": q} for q in SEARCHES]))
                cases.append(("search", "anonymous", SEARCH, [{"q": q} for q in SEARCHES]))
                baseline = None
                say(f"\n{'query':28} {'as':16} {'p50 ms':>8} {'p99 ms':>8} {'x baseline':>10}")
                for name, who, query, variable_sets in cases:
                    token = pm_token if who == "program manager" else ""
                    for variables in variable_sets:  # warm-up: caches, plans
                        await timed(client, token, query, variables)
                    samples = [
                        await timed(client, token, query, variable_sets[i % len(variable_sets)])
                        for i in range(requests)
                    ]
                    p50, p99 = statistics.median(samples), pct(samples, 0.99)
                    baseline = baseline or p50
                    target = (
                        ""
                        if name.startswith("baseline")
                        else ("  ok" if p50 <= 100 else "  OVER 100 ms")
                    )
                    ok = ok and (name.startswith("baseline") or p50 <= 100)
                    say(f"{name:28} {who:16} {p50:8.1f} {p99:8.1f} {p50 / baseline:10.1f}{target}")
    finally:
        await engine.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--projects", type=int, default=10_000)
    parser.add_argument("--datasets", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with fresh_database("stats", say) as url:
        say(f"database {url.rsplit('/', 1)[1]}: migrating")
        upgrade(url)
        started = time.perf_counter()
        rows = Rows(args.projects, args.datasets)
        say(f"generated rows in {time.perf_counter() - started:.1f} s; COPY:")
        asyncio.run(load(url, rows))
        ok = asyncio.run(measure(url, args.requests))
    say("all p50 within 100 ms" if ok else "some p50 over 100 ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
