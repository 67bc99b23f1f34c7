"""The compiled read path's pages and filters answer exactly as strawberry does (issue 9):
backward pages (`last`, `before`) and every mix of the four page arguments, the theme
filter (a theme and its sub-themes) and the year filter of projects, the theme filter of
datasets. Each document goes through both paths as several principals, responses compared
whole; the ones the compiler answers are one SQL statement, the ones strawberry refuses
(its errors) are not compiled at all."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from server.core.metrics import ROOT_FIELDS
from server.core.pagination import encode_cursor
from server.datasets import service as datasets
from server.models.enums import AccessLevel, InstitutionRole, ProjectPhase
from server.themes import service as themes
from tests.factories import Factory, gid
from tests.fixtures.access_world import World, build_world
from tests.fixtures.compiled_world import PRINCIPALS, answer, answering_statements

PROJECTS = """query($first: Int, $after: String, $last: Int, $before: String,
    $filter: ProjectFilter) {
  projects(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount edges { cursor node { id title } } nodes { id }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
DATASETS = """query($first: Int, $after: String, $last: Int, $before: String,
    $filter: DatasetFilter) {
  datasets(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount edges { cursor node { title project { title } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""
INSTITUTIONS = """query($last: Int, $before: String) { institutions(last: $last, before: $before)
    { totalCount nodes { nameEn } pageInfo { hasNextPage hasPreviousPage endCursor } } }"""
RESEARCHERS = """query($first: Int, $before: String) {
  researchers(first: $first, before: $before) { totalCount edges { cursor }
    pageInfo { hasNextPage hasPreviousPage startCursor } } }"""
TWO_ROOTS = """query($theme: ID!) { a: projects(last: 2, filter: {themeId: $theme}) { totalCount
    nodes { title } } b: datasets(last: 1, filter: {themeId: $theme}) { nodes { title } } }"""
# the seeded themes: 1 environment-energy > 2 global-environment, 3 carbon-neutral-energy;
# 4, 5, 6 without sub-themes


@dataclass
class Paged:
    world: World
    projects: list[int]  # every project, in id order
    deep: int  # a theme under theme 2


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def build_paged(sessions: Any, factory: Factory) -> Paged:
    """build_world's two projects (theme 5) and datasets, and projects over the theme tree
    and the years, some hidden (proposals), a dataset in each."""
    world = await build_world(sessions)
    deep = await factory._run(themes.create_theme, name="Glaciers", parent_id=2)
    shapes: list[tuple[tuple[int, ...], ProjectPhase, dt.date, dt.date | None]] = [
        ((1,), ProjectPhase.IMPLEMENTATION, dt.date(2015, 4, 1), dt.date(2020, 3, 31)),
        ((2,), ProjectPhase.COMPLETED, dt.date(2010, 4, 1), dt.date(2015, 3, 31)),
        ((deep.id,), ProjectPhase.IMPLEMENTATION, dt.date(2019, 6, 1), None),
        ((deep.id, 4), ProjectPhase.IDENTIFICATION, dt.date(2024, 4, 1), dt.date(2029, 3, 31)),
        ((3,), ProjectPhase.IDENTIFICATION, dt.date(2016, 1, 1), dt.date(2016, 12, 31)),
        ((4,), ProjectPhase.IMPLEMENTATION, dt.date(2016, 12, 31), dt.date(2021, 1, 1)),
        ((2, 6), ProjectPhase.PLANNING, dt.date(2017, 1, 1), dt.date(2020, 12, 31)),
    ]
    for theme_ids, phase, start, end in shapes:
        countries = ("TH",) if len(theme_ids) == 1 else ("ID",)
        project = await factory.project(
            phase=phase, theme_ids=theme_ids, start=start, end=end, countries=countries
        )
        await factory.link(project.id, world.owner, InstitutionRole.JAPANESE_LEAD)
        level = AccessLevel.PUBLIC if phase != ProjectPhase.COMPLETED else AccessLevel.PROJECT
        values = {"title": f"data of {project.title}", "licence": "CC0-1.0", "access_level": level}
        await factory._run(datasets.create_dataset, project.id, world.owner, values)
    result = await admin_projects(sessions)
    return Paged(world, result, deep.id)


async def admin_projects(sessions: Any) -> list[int]:
    from sqlalchemy import select

    from server.models import Project

    async with sessions() as session:
        return list(await session.scalars(select(Project.id).order_by(Project.id)))


def page_documents(paged: Paged) -> list[tuple[str, dict[str, Any]]]:
    """Pages at the start, middle and end of the list, of every size, both directions."""
    ids = paged.projects
    start, middle, end = encode_cursor(ids[0]), encode_cursor(ids[4]), encode_cursor(ids[-1])
    past = encode_cursor(ids[-1] + 100)
    docs: list[dict[str, Any]] = [
        {},
        {"last": 0},
        {"last": 1},
        {"last": 3},
        {"last": 100},  # more than there are
        {"first": 100},
        {"last": 2, "before": start},  # nothing before the first
        {"last": 2, "before": middle},
        {"last": 1, "before": encode_cursor(ids[1])},  # the first row only: no previous page
        {"last": 2, "before": end},
        {"last": 2, "before": past},
        {"last": 0, "before": middle},
        {"last": 100, "before": middle},
        {"before": middle},  # forward from the start, up to the cursor
        {"before": start},
        {"first": 2, "before": middle},
        {"first": 0, "before": end},
        {"last": 2, "after": middle},
        {"last": 2, "after": start},
        {"last": 3, "after": end},
        {"last": 1, "after": start, "before": end},
        {"first": 1, "after": start, "before": end},
        {"first": 3, "after": middle, "before": middle},  # an empty window
        {"after": end},
        {"first": 2, "after": past},
        {"before": encode_cursor(-5)},
        {"last": 2, "before": raw_cursor("k1:0")},
    ]
    return [(PROJECTS, variables) for variables in docs]


def combinations(paged: Paged) -> list[tuple[str, dict[str, Any]]]:
    """Every mix of the four page arguments (first and last together: an error)."""
    ids = paged.projects
    lows, highs = (None, encode_cursor(ids[2])), (None, encode_cursor(ids[6]))
    found = []
    for first, last, after, before in itertools.product((None, 0, 2), (None, 0, 2), lows, highs):
        values = {"first": first, "last": last, "after": after, "before": before}
        found.append((PROJECTS, {k: v for k, v in values.items() if v is not None}))
    return found


def refused() -> list[tuple[str, dict[str, Any]]]:
    """What strawberry answers with an error (the compiler leaves it to strawberry)."""
    return [
        (PROJECTS, {"first": 1, "last": 1}),
        (PROJECTS, {"first": 0, "last": 0}),
        (PROJECTS, {"last": -1}),
        (PROJECTS, {"last": 101}),
        (PROJECTS, {"first": -1, "before": encode_cursor(3)}),
        (PROJECTS, {"last": 2, "before": "garbage"}),
        (PROJECTS, {"before": ""}),
        (PROJECTS, {"last": 1, "before": raw_cursor("k2:5")}),
        (PROJECTS, {"last": 1, "before": raw_cursor("k1:five")}),
        (PROJECTS, {"last": 1, "after": "garbage", "before": encode_cursor(3)}),
        (PROJECTS, {"last": 1, "after": encode_cursor(10**20)}),
        (PROJECTS, {"filter": {"themeId": gid("Project", 1)}}),  # INVALID_ID
        (PROJECTS, {"filter": {"themeId": "not-an-id"}}),
        (PROJECTS, {"filter": {"year": 0}}),  # INVALID_YEAR
        (PROJECTS, {"filter": {"year": 10000}}),
        (PROJECTS, {"last": 1, "filter": {"year": -2024, "themeId": gid("Theme", 1)}}),
        (DATASETS, {"filter": {"themeId": gid("Dataset", 1)}}),
        (DATASETS, {"last": 1, "before": "garbage", "filter": {"themeId": gid("Theme", 1)}}),
        (DATASETS, {"first": 1, "last": 1, "filter": {"themeId": gid("Theme", 2)}}),
    ]


def filters(paged: Paged) -> list[tuple[str, dict[str, Any]]]:
    theme = lambda pk: gid("Theme", pk)  # noqa: E731
    middle = encode_cursor(paged.projects[5])
    project_filters: list[dict[str, Any]] = [
        {"themeId": theme(1)},  # itself (none), its children and their child
        {"themeId": theme(2)},
        {"themeId": theme(paged.deep)},
        {"themeId": theme(3)},
        {"themeId": theme(5)},
        {"themeId": theme(6)},
        {"themeId": theme(10**6)},  # no such theme: nothing
        {"year": 2016},
        {"year": 2015},  # ends in March 2015 / starts in April 2015
        {"year": 2030},  # open-ended projects only
        {"year": 1},
        {"year": 9999},
        {"themeId": theme(1), "year": 2016},
        {"themeId": theme(2), "year": 2020, "phase": "IMPLEMENTATION"},
        {"themeId": theme(1), "country": "id", "institutionId": gid("Institution", 1)},
        {"themeId": theme(2), "country": "TH"},
        {"year": 2017, "country": "TH"},
    ]
    docs = [(PROJECTS, {"filter": f}) for f in project_filters]
    docs += [
        (PROJECTS, {"last": 2, "filter": {"themeId": theme(1)}}),
        (PROJECTS, {"last": 1, "before": middle, "filter": {"themeId": theme(1)}}),
        (PROJECTS, {"first": 1, "after": middle, "filter": {"year": 2016}}),
        (PROJECTS, {"last": 2, "filter": {"themeId": theme(2), "year": 2019}}),
    ]
    dataset_filters: list[dict[str, Any]] = [
        {"themeId": theme(1)},
        {"themeId": theme(2)},
        {"themeId": theme(paged.deep)},
        {"themeId": theme(5)},
        {"themeId": theme(10**6)},
        {"themeId": theme(1), "accessLevel": "PUBLIC"},
        {"themeId": theme(2), "country": "ID"},
        {"themeId": theme(1), "institutionId": gid("Institution", paged.world.owner)},
        {"themeId": theme(5), "projectId": gid("Project", paged.projects[0])},
    ]
    docs += [(DATASETS, {"filter": f}) for f in dataset_filters]
    docs += [
        (DATASETS, {}),
        (DATASETS, {"last": 2}),
        (DATASETS, {"last": 3, "before": raw_cursor("k1:9"), "filter": {"themeId": theme(1)}}),
        (DATASETS, {"first": 1, "before": raw_cursor("k1:9")}),
        (DATASETS, {"last": 1, "after": raw_cursor("k1:2"), "filter": {"accessLevel": "PUBLIC"}}),
        (INSTITUTIONS, {"last": 2}),
        (INSTITUTIONS, {"last": 1, "before": raw_cursor("k1:2")}),
        (RESEARCHERS, {"first": 2, "before": raw_cursor("k1:4")}),
        (TWO_ROOTS, {"theme": theme(2)}),
    ]
    return docs


def counted() -> dict[str, float]:
    return {how: ROOT_FIELDS.labels(how)._value.get() for how in ("compiled", "fast", "resolved")}


async def mismatches(
    client: httpx.AsyncClient,
    strawberry_client: httpx.AsyncClient,
    engine: Any,
    world: World,
    documents: list[tuple[str, dict[str, Any]]],
    *,
    how: str,
    roles: tuple[str, ...] = PRINCIPALS,
) -> list[str]:
    """Each document as each role: the compiled path (twice: the second may take the fast
    path) and strawberry answer alike. `how` the first answer came: "compiled", one
    statement per root field and none resolved by strawberry; "refused", nothing compiled
    and strawberry's error; "resolved", nothing compiled (strawberry resolved it)."""
    wrong = []
    for role in roles:
        token = world.tokens[role]
        for query, variables in documents:
            before = counted()
            with answering_statements(engine) as seen:
                first = await answer(client, token, query, variables)
            after = counted()
            again = await answer(client, token, query, variables)
            resolved = await answer(strawberry_client, token, query, variables)
            roots = 2 if query is TWO_ROOTS else 1
            taken = after["compiled"] + after["fast"] - before["compiled"] - before["fast"]
            if how == "compiled":
                how_ok = len(seen) == roots == taken and after["resolved"] == before["resolved"]
            else:
                answered = after["resolved"] - before["resolved"] == roots and taken == 0
                how_ok = answered and (how == "resolved" or "errors" in resolved[1])
            if not (how_ok and first == again == resolved):
                wrong.append(
                    f"{role} {query[:40]!r} {variables}: statements {len(seen)}, compiled "
                    f"{taken}\n compiled {json.dumps(first)[:500]}\n again "
                    f"{json.dumps(again)[:500]}\n strawberry {json.dumps(resolved)[:500]}"
                )
    return wrong


@pytest.fixture
async def paged(sessions, factory) -> Paged:
    return await build_paged(sessions, factory)


async def test_backward_and_forward_pages_answer_alike(client, strawberry_client, engine, paged):
    docs = page_documents(paged)
    wrong = await mismatches(client, strawberry_client, engine, paged.world, docs, how="compiled")
    assert not wrong, "\n".join(wrong[:5])


async def test_every_mix_of_page_arguments_answers_alike(client, strawberry_client, engine, paged):
    docs = combinations(paged)
    together = [d for d in docs if "first" in d[1] and "last" in d[1]]
    apart = [d for d in docs if d not in together]
    assert len(docs) == 36 and len(together) == 16
    roles = ("anonymous", "researcher_member", "admin")
    wrong = await mismatches(
        client, strawberry_client, engine, paged.world, apart, how="compiled", roles=roles
    )
    wrong += await mismatches(
        client, strawberry_client, engine, paged.world, together, how="refused", roles=roles
    )
    assert not wrong, "\n".join(wrong[:5])


async def test_what_strawberry_refuses_stays_its_own(client, strawberry_client, engine, paged):
    roles = ("anonymous", "admin")
    wrong = await mismatches(
        client, strawberry_client, engine, paged.world, refused(), how="refused", roles=roles
    )
    assert not wrong, "\n".join(wrong[:5])


async def test_a_key_no_int4_holds_is_left_to_strawberry(client, strawberry_client, engine, paged):
    """PostgreSQL's driver refuses it (an error), SQLite compares it (an answer)."""
    docs = [
        (PROJECTS, {"before": encode_cursor(2**31)}),
        (PROJECTS, {"after": encode_cursor(-(2**31) - 1)}),
    ]
    wrong = await mismatches(
        client, strawberry_client, engine, paged.world, docs, how="resolved", roles=("admin",)
    )
    assert not wrong, "\n".join(wrong[:5])


async def test_theme_and_year_filters_answer_alike(client, strawberry_client, engine, paged):
    docs = filters(paged)
    wrong = await mismatches(client, strawberry_client, engine, paged.world, docs, how="compiled")
    assert not wrong, "\n".join(wrong[:5])


async def test_the_filters_find_what_they_name(admin, paged):
    """The differential tests compare the paths; this one pins what they both answer."""
    ids = paged.projects

    async def found(flt: dict[str, Any], last: int | None = None) -> list[int]:
        data = await admin(PROJECTS, {"filter": flt, "last": last})
        return [ids.index(key_of(node["id"])) for node in data["projects"]["nodes"]]

    assert await found({"themeId": gid("Theme", 1)}) == [2, 3, 4, 5, 6, 8]
    assert await found({"themeId": gid("Theme", 2)}) == [3, 4, 5, 8]
    assert await found({"themeId": gid("Theme", paged.deep)}) == [4, 5]
    assert await found({"year": 2016}) == [2, 6, 7]
    assert await found({"year": 2030}) == [4]
    assert await found({"themeId": gid("Theme", 1), "year": 2016}, last=1) == [6]
    assert await found({"themeId": gid("Theme", 1)}, last=2) == [6, 8]


def key_of(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":")[1])


async def test_a_theme_added_later_is_in_the_next_answer(admin, factory, paged):
    """The subtree is walked by the statement: a kept plan sees the tree as it is now."""
    variables = {"filter": {"themeId": gid("Theme", 2)}}
    before = await admin(PROJECTS, variables)
    again = await admin(PROJECTS, variables)  # the fast path
    deeper = await factory._run(themes.create_theme, name="Ice cores", parent_id=paged.deep)
    project = await factory.project(theme_ids=(deeper.id,))
    after = await admin(PROJECTS, variables)
    assert before == again and before["projects"]["totalCount"] == 4
    assert after["projects"]["totalCount"] == 5
    assert after["projects"]["nodes"][-1]["id"] == gid("Project", project.id)
