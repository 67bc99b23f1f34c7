"""datasets(filter: { intersects, timeFrom, timeTo }) on both databases, with the access
rules applied, the antimeridian, points, missing periods and bad input; and EXPLAIN showing
each database's index at work (SQLite's R*Tree, PostgreSQL's GiST indexes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement

from server.access.auth import ANONYMOUS
from server.datasets.queries import DatasetFilter, datasets_filtered
from tests.schema.test_coverage import SET
from tests.schema.test_datasets import CREATE, dataset_input, setup_project

FILTERED = """query($f: DatasetFilter) { datasets(filter: $f, first: 50) {
    totalCount nodes { title coverage { bbox { west south east north } timeStart timeEnd } } } }"""
STATS = """query($f: DatasetFilter) { datasetStats(filter: $f) { total } }"""
MEKONG_BASIN = {"west": 97.5, "south": 8.5, "east": 107.0, "north": 33.5}

# title, access level, bbox (w, s, e, n), period
CATALOGUE: list[tuple[str, str, tuple[float, ...] | None, tuple[str | None, str | None] | None]] = [
    ("mekong", "PUBLIC", (100.09, 10.03, 106.02, 20.27), ("2019-01-01", "2022-12-31")),
    ("mekong-members", "PROJECT", (100.09, 10.03, 106.02, 20.27), ("2021-01-01", "2023-06-30")),
    ("fiji", "PUBLIC", (177.0, -19.2, -178.0, -16.0), ("2024-01-01", "2024-12-31")),
    ("phnom-penh-gauge", "PUBLIC", (104.92, 11.56, 104.92, 11.56), None),
    ("rainfall-2020", "PUBLIC", None, ("2020-01-01", None)),
    ("no-coverage", "PUBLIC", None, None),
]


def instant(day: str | None) -> str | None:
    return None if day is None else f"{day}T00:00:00+00:00"


async def catalogue(admin: Any, factory: Any) -> None:
    project, jp, _, _ = await setup_project(factory)
    for title, level, bbox, period in CATALOGUE:
        created = await admin(
            CREATE, {"input": dataset_input(project, jp, title=title, accessLevel=level)}
        )
        dataset = created["createDataset"]["dataset"]["id"]
        given: dict[str, Any] = {"id": dataset}
        if bbox is not None:
            given["bbox"] = dict(zip(("west", "south", "east", "north"), bbox, strict=True))
        if period is not None:
            given["period"] = {"start": instant(period[0]), "end": instant(period[1])}
        if len(given) > 1:
            done = (await admin(SET, {"input": given}))["setCoverage"]
            assert done["errors"] == [], done


async def titles(client: Any, flt: dict[str, Any]) -> set[str]:
    found = (await client(FILTERED, {"f": flt}))["datasets"]
    assert found["totalCount"] == len(found["nodes"])
    assert (await client(STATS, {"f": flt}))["datasetStats"]["total"] == found["totalCount"]
    return {n["title"] for n in found["nodes"]}


async def test_the_mekong_basin_in_2020_2024(gql, admin, factory):
    await catalogue(admin, factory)
    mekong = {
        "intersects": MEKONG_BASIN,
        "timeFrom": instant("2020-01-01"),
        "timeTo": instant("2024-12-31"),
    }
    # the restricted dataset meets the box and the years, but the public may not see it
    assert await titles(gql, mekong) == {"mekong"}
    assert await titles(admin, mekong) == {"mekong", "mekong-members"}
    # the box alone: the gauge (a point) too; the period alone: the rainfall without a box
    assert await titles(gql, {"intersects": MEKONG_BASIN}) == {"mekong", "phnom-penh-gauge"}
    years = {"timeFrom": instant("2020-03-01"), "timeTo": instant("2020-04-01")}
    assert await titles(gql, years) == {"mekong", "rainfall-2020"}  # open end: still running


async def test_edges_points_and_open_periods(gql, admin, factory):
    await catalogue(admin, factory)
    point = {"west": 104.92, "south": 11.56, "east": 104.92, "north": 11.56}
    assert await titles(gql, {"intersects": point}) == {"mekong", "phnom-penh-gauge"}
    # a box whose edge touches the Mekong box's edge: edges count
    touching = {"west": 106.02, "south": 0.0, "east": 110.0, "north": 10.03}
    assert await titles(gql, {"intersects": touching}) == {"mekong"}
    # open-ended filters; a dataset without a period never matches one
    assert await titles(gql, {"timeFrom": instant("2024-06-01")}) == {"fiji", "rainfall-2020"}
    assert await titles(gql, {"timeTo": instant("2019-06-01")}) == {"mekong"}
    assert await titles(gql, {"timeTo": instant("2018-01-01")}) == set()


async def test_the_antimeridian(gql, admin, factory):
    await catalogue(admin, factory)

    def box(w: float, s: float, e: float, n: float) -> dict[str, Any]:
        return {"intersects": {"west": w, "south": s, "east": e, "north": n}}

    # a query across 180 finds Fiji (itself across 180) from either side
    assert await titles(gql, box(175, -20, -175, -10)) == {"fiji"}
    assert await titles(gql, box(-179, -19, -178.5, -18)) == {"fiji"}  # east of 180 only
    assert await titles(gql, box(178, -19, 179, -18)) == {"fiji"}  # west of 180 only
    assert await titles(gql, box(170, -20, 176.9, -10)) == set()  # just west of Fiji
    assert await titles(gql, box(-177.9, -20, -170, -10)) == set()  # just east of it
    # a query across 180 spanning the Pacific to Asia: Fiji and everything in Indochina
    assert await titles(gql, box(100, -30, -170, 30)) == {"fiji", "mekong", "phnom-penh-gauge"}
    # the whole world
    assert await titles(gql, box(-180, -90, 180, 90)) == {"mekong", "fiji", "phnom-penh-gauge"}


async def test_bad_filters_have_codes(gql, admin, factory):
    await catalogue(admin, factory)
    cases = [
        ({"intersects": {"west": 0, "south": 10, "east": 1, "north": 5}}, "INVALID_LATITUDE"),
        ({"intersects": {"west": 0, "south": -91, "east": 1, "north": 5}}, "INVALID_LATITUDE"),
        ({"intersects": {"west": -181, "south": 0, "east": 1, "north": 5}}, "INVALID_LONGITUDE"),
        ({"timeFrom": instant("2024-01-01"), "timeTo": instant("2020-01-01")}, "INVALID_PERIOD"),
    ]
    for flt, code in cases:
        errors = await gql.errors(FILTERED, {"f": flt})
        assert [e["extensions"]["code"] for e in errors] == [code], flt


# ---- the indexes at work ---------------------------------------------------------------


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: Any) -> None:
        self.statement = statement


@compiles(Explain, "sqlite")
def _explain_sqlite(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN QUERY PLAN " + compiler.process(element.statement, **kw)


@compiles(Explain, "postgresql")
def _explain_postgres(element: Explain, compiler: Any, **kw: Any) -> str:
    return "EXPLAIN " + compiler.process(element.statement, **kw)


@pytest.mark.parametrize("part", ["box", "period"])
async def test_explain_uses_the_index(sessions, dialect, part):
    flt = DatasetFilter()
    if part == "box":
        flt.intersects = (97.5, 8.5, 107.0, 33.5)
    else:
        flt.time_from = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        flt.time_to = dt.datetime(2024, 12, 31, tzinfo=dt.UTC)
    async with sessions() as session:
        name = session.get_bind().dialect.name
        stmt = datasets_filtered(ANONYMOUS, flt, dialect=name)
        if name == "postgresql":
            # a handful of rows: a sequential scan is cheaper, so the planner is told to
            # avoid it, which shows that the index matches the filter's expressions
            await session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(str(row[-1]) for row in await session.execute(Explain(stmt)))
    if name == "sqlite":
        assert "search_dataset_coverage VIRTUAL TABLE INDEX" in plan, plan
    else:
        index = f"search_datasets_coverage_{part}"
        assert f"Bitmap Index Scan on {index}" in plan or f"Index Scan using {index}" in plan, plan


def readme_example() -> str:
    """The README's Mekong query (API at a glance), as printed there."""
    readme = (Path(__file__).parent.parent.parent / "README.md").read_text()
    start = readme.index("the Mekong basin in 2020-2024?")
    block = readme[start:].split("```graphql\n", 1)[1]
    return block.split("```", 1)[0]


async def test_the_readme_example_answers(gql, admin, factory):
    await catalogue(admin, factory)
    found = (await gql(readme_example()))["datasets"]
    assert [n["title"] for n in found["nodes"]] == ["mekong"]
    assert found["nodes"][0]["coverage"]["bboxSource"] == "PERSON"  # set by setCoverage
    assert found["nodes"][0]["coverage"]["timeSource"] == "PERSON"
