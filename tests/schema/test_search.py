"""search: full text over projects, datasets, institutions and researchers, ranked and
highlighted, in any script, on both dialects, showing only what the caller may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from server.models import Dataset, DatasetFile, DatasetVersion
from server.models.enums import AccessLevel, AccountRole, ProjectPhase, VersionState

SEARCH = """
query Search($q: String!, $types: [SearchType!], $first: Int, $after: String) {
  search(query: $q, types: $types, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges {
      cursor rank highlight type
      node {
        __typename
        ... on Project { title }
        ... on Dataset { title }
        ... on Institution { nameEn }
        ... on Researcher { nameEn }
      }
    }
  }
}
"""


@dataclass
class World:
    dataset_ids: dict[str, int]


def _name(edge: dict[str, Any]) -> str:
    node = edge["node"]
    return str(node.get("title") or node.get("nameEn"))


@pytest.fixture
async def world(factory: Any, sessions: Any) -> World:
    kyoto = await factory.institution("JP", name_en="Kyoto University", name_local="京都大学")
    chula = await factory.institution(
        "TH", name_en="Chulalongkorn University", name_local="จุฬาลงกรณ์มหาวิทยาลัย"
    )
    await factory.institution("ID", name_en="Universitas Gadjah Mada", acronym="UGM")
    await factory.researcher(name_en="Tanaka Hiroshi", name_local="田中 博")
    await factory.researcher(name_en="Somchai Prasert", name_local="สมชาย ประเสริฐ")
    public = await factory.project(
        title="Flood forecasting for the Chao Phraya basin",
        summary="Rainfall radar and river gauges feed a flood model.",
        start=dt.date(2022, 4, 1),
    )
    await factory.project(
        phase=ProjectPhase.REQUESTED,
        title="Flood insurance proposal",
        summary="Under negotiation.",
    )
    ids: dict[str, int] = {}
    async with sessions() as s:
        rows = {
            "rainfall": Dataset(
                project_id=public.id,
                owner_institution_id=kyoto.id,
                title="Rainfall observations",
                description="Hourly gauges across the basin, flood season included",
                keywords=["monsoon", "hydrology"],
                licence="CC-BY-4.0",
                access_level=AccessLevel.PUBLIC,
            ),
            "damage": Dataset(
                project_id=public.id,
                owner_institution_id=chula.id,
                title="Flood damage survey",
                description="Household interviews",
                keywords=[],
                licence="CC-BY-4.0",
                access_level=AccessLevel.INSTITUTION,
            ),
        }
        s.add_all(rows.values())
        await s.flush()
        version = DatasetVersion(
            dataset_id=rows["rainfall"].id,
            number=1,
            state=VersionState.PUBLISHED,
            published_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )
        s.add(version)
        await s.flush()
        s.add(
            DatasetFile(
                version_id=version.id,
                name="gauges.csv",
                size=10,
                sha256="0" * 64,
                raw_key="raw/gauges.csv",
                profile={"rows": 3, "columns": [{"name": "precipitation_mm"}, {"name": "station"}]},
            )
        )
        s.add(  # a PDF's text, as formats/pdf.py puts it in the profile (migration 0013)
            DatasetFile(
                version_id=version.id,
                name="report.pdf",
                size=10,
                sha256="1" * 64,
                raw_key="raw/report.pdf",
                profile={"kind": "document", "search_text": "Inundation along the Sendai plain"},
            )
        )
        await s.commit()
        ids = {k: v.id for k, v in rows.items()}
    return World(ids)


async def test_anonymous_finds_public_things_only(gql: Any, world: World):
    result = (await gql(SEARCH, {"q": "flood"}))["search"]
    names = [_name(e) for e in result["edges"]]
    assert sorted(names) == ["Flood forecasting for the Chao Phraya basin", "Rainfall observations"]
    assert result["totalCount"] == 2  # the proposal and the institution's dataset stay hidden


async def test_program_manager_finds_proposals_and_restricted_metadata(
    gql: Any, world: World, make_token: Any
):
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    result = (await gql.as_(token)(SEARCH, {"q": "flood"}))["search"]
    assert result["totalCount"] == 4
    assert {_name(e) for e in result["edges"]} >= {
        "Flood insurance proposal",
        "Flood damage survey",
    }


async def test_title_matches_rank_first_and_are_highlighted(gql: Any, world: World):
    edges = (await gql(SEARCH, {"q": "rainfall"}))["search"]["edges"]
    assert [_name(e) for e in edges] == [
        "Rainfall observations",  # in the title
        "Flood forecasting for the Chao Phraya basin",  # in the summary
    ]
    assert edges[0]["rank"] > edges[1]["rank"] > 0
    assert "<mark>Rainfall</mark>" in edges[0]["highlight"]
    assert [e["type"] for e in edges] == ["DATASET", "PROJECT"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("京都大学", "Kyoto University"),
        ("จุฬาลงกรณ์มหาวิทยาลัย", "Chulalongkorn University"),
        ("gadjah", "Universitas Gadjah Mada"),
        ("UGM", "Universitas Gadjah Mada"),
        ("田中", "Tanaka Hiroshi"),
        ("สมชาย", "Somchai Prasert"),
        ("monsoon", "Rainfall observations"),  # a keyword
        ("precipitation_mm", "Rainfall observations"),  # a column of a profiled file
        ("inundation sendai", "Rainfall observations"),  # a PDF's text (search_text)
        ("chula univ", "Chulalongkorn University"),  # words as prefixes, all required
    ],
)
async def test_names_in_any_language_match(gql: Any, world: World, query: str, expected: str):
    edges = (await gql(SEARCH, {"q": query}))["search"]["edges"]
    assert [_name(e) for e in edges] == [expected]


async def test_types_narrow_the_search(gql: Any, world: World):
    result = (await gql(SEARCH, {"q": "university", "types": ["INSTITUTION"]}))["search"]
    assert {e["node"]["__typename"] for e in result["edges"]} == {"Institution"}
    assert result["totalCount"] == 2
    none = (await gql(SEARCH, {"q": "flood", "types": ["RESEARCHER"]}))["search"]
    assert none["totalCount"] == 0 and none["edges"] == []


async def test_pages_follow_each_other(gql: Any, world: World):
    everything = (await gql(SEARCH, {"q": "university", "first": 10}))["search"]["edges"]
    first = (await gql(SEARCH, {"q": "university", "first": 1}))["search"]
    assert first["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "endCursor": first["edges"][0]["cursor"],
    }
    second = (
        await gql(SEARCH, {"q": "university", "first": 1, "after": first["pageInfo"]["endCursor"]})
    )["search"]
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert [_name(e) for e in first["edges"] + second["edges"]] == [_name(e) for e in everything]


async def test_operators_of_the_user_are_plain_text(gql: Any, world: World):
    for query in ["flood & !", "(flood) |", "'flood':*", 'flood"', "flood*", "-flood", "flood:A"]:
        result = (await gql(SEARCH, {"q": query}))["search"]
        assert result["totalCount"] >= 1, query


async def test_highlights_escape_html(gql: Any, world: World, factory: Any):
    await factory.institution("JP", name_en="Tokai <b>Lab</b> & Sons")
    edges = (await gql(SEARCH, {"q": "tokai"}))["search"]["edges"]
    highlight = edges[0]["highlight"]
    assert "<mark>Tokai</mark>" in highlight
    assert "<b>" not in highlight and "& " not in highlight


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        ({"q": ""}, "INVALID_QUERY"),
        ({"q": "  -- !! "}, "INVALID_QUERY"),
        ({"q": "a" * 201}, "INVALID_QUERY"),
        ({"q": "flood", "after": "bm90LWEtY3Vyc29y"}, "INVALID_CURSOR"),
        ({"q": "flood", "after": "%%%"}, "INVALID_CURSOR"),
        ({"q": "flood", "first": 51}, "INVALID_PAGE_SIZE"),
        ({"q": "flood", "first": -1}, "INVALID_PAGE_SIZE"),
    ],
)
async def test_bad_input_is_a_clear_error(
    gql: Any, world: World, variables: dict[str, Any], code: str
):
    errors = await gql.errors(SEARCH, variables)
    assert errors[0]["extensions"]["code"] == code
    assert errors[0]["message"]


HIGHLIGHTS = """query($q: String!) { search(query: $q) { edges { highlight } } }"""
LONG_SUMMARY = (
    " ".join(f"w{i:02d}" for i in range(1, 20))
    + " levee "
    + " ".join(f"x{i:02d}" for i in range(1, 30))
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # short texts whole: the title, " — ", the body (whitespace collapsed)
        ("京都大学", "Kyoto University — <mark>京都大学</mark> JP"),
        (
            "rainfall radar",
            "Flood forecasting for the Chao Phraya basin — <mark>Rainfall</mark> "
            "<mark>radar</mark> and river gauges feed a flood model.",
        ),
        # a prefix marks the whole word
        ("gadj", "Universitas <mark>Gadjah</mark> Mada — UGM ID"),
        ("สมชาย", "Somchai Prasert — <mark>สมชาย</mark> ประเสริฐ"),
        # a long text: 24 words from 3 before the first match, ellipses where cut
        (
            "levee",
            "… w17 w18 w19 <mark>levee</mark> x01 x02 x03 x04 x05 x06 x07 x08 x09 x10 x11 x12 "
            "x13 x14 x15 x16 x17 x18 x19 x20 …",
        ),
        # near the end: the window moves back to stay full
        (
            "x29",
            "… x06 x07 x08 x09 x10 x11 x12 x13 x14 x15 x16 x17 x18 x19 x20 x21 x22 x23 x24 "
            "x25 x26 x27 x28 <mark>x29</mark>",
        ),
        # a dataset's body: description, keywords, its files' column names (sorted), then
        # its files' text (a PDF's, migration 0013)
        (
            "precipitation",
            "Rainfall observations — Hourly gauges across the basin, flood season included "
            "monsoon hydrology <mark>precipitation</mark>_mm station Inundation along the "
            "Sendai plain",
        ),
        # a match in the title of a long text: from the start
        (
            "dikes",
            "<mark>Dikes</mark> — w01 w02 w03 w04 w05 w06 w07 w08 w09 w10 w11 w12 w13 w14 "
            "w15 w16 w17 w18 w19 levee x01 x02 x03 …",
        ),
    ],
)
async def test_highlights_follow_one_rule_on_both_databases(
    gql: Any, world: World, factory: Any, query: str, expected: str
):
    await factory.project(title="Dikes", summary=LONG_SUMMARY, start=dt.date(2022, 4, 1))
    edges = (await gql(HIGHLIGHTS, {"q": query}))["search"]["edges"]
    assert [e["highlight"] for e in edges] == [expected]


async def test_column_names_read_alike_on_both_databases(gql: Any, world: World, sessions: Any):
    from sqlalchemy import select

    async with sessions() as s:
        version = await s.scalar(
            select(DatasetVersion).where(DatasetVersion.dataset_id == world.dataset_ids["rainfall"])
        )
        s.add(
            DatasetFile(
                version_id=version.id,
                name="more.csv",
                size=10,
                sha256="1" * 64,
                raw_key="raw/more.csv",
                profile={"columns": [{"name": "zeta"}, {"name": "Alpha"}, {"name": "station"}]},
            )
        )
        await s.commit()
    edges = (await gql(HIGHLIGHTS, {"q": "zeta"}))["search"]["edges"]
    # distinct, in code point order, joined by spaces (not SQLite's commas in scan order)
    assert [e["highlight"] for e in edges] == [
        "Rainfall observations — Hourly gauges across the basin, flood season included "
        "monsoon hydrology Alpha precipitation_mm station <mark>zeta</mark> Inundation along "
        "the Sendai plain"
    ]


async def test_a_file_rebuilds_its_datasets_document_only_when_its_profile_adds_words(
    world: World, sessions: Any
):
    """Migration 0025: the body is rebuilt for a file whose profile has columns or a
    search_text (or had them, when it changes); a wordless file leaves the document as it
    is. A sentinel title shows whether the document was rebuilt."""
    from sqlalchemy import select, text

    dataset_id = world.dataset_ids["rainfall"]
    document = text(
        "SELECT title, body FROM search_documents WHERE kind = 'dataset' AND ref_id = :d"
    )
    mark = text("UPDATE search_documents SET title = 'sentinel' WHERE kind = 'dataset'")

    async def add_then_read(change: Any) -> tuple[str, str]:
        async with sessions() as s:
            await s.execute(mark)
            await change(s)
            await s.commit()
            title, body = (await s.execute(document, {"d": dataset_id})).one()
            return title, body

    async with sessions() as s:
        version_id = await s.scalar(
            select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset_id)
        )

    def file(name: str, profile: dict[str, Any]) -> DatasetFile:
        return DatasetFile(
            version_id=version_id,
            name=name,
            size=10,
            sha256="2" * 64,
            raw_key=f"raw/{name}",
            path=name,
            profile=profile,
        )

    async def wordless(s: Any) -> None:
        s.add(file("photo.jpg", {"kind": "binary", "bytes": 10}))

    title, body = await add_then_read(wordless)
    assert title == "sentinel" and "precipitation_mm" in body  # not rebuilt, words kept

    async def with_columns(s: Any) -> None:
        s.add(file("levels.csv", {"columns": [{"name": "water_level_cm"}]}))

    title, body = await add_then_read(with_columns)
    assert title == "Rainfall observations" and "water_level_cm" in body

    async def columns_gone(s: Any) -> None:
        row = await s.scalar(select(DatasetFile).where(DatasetFile.name == "levels.csv"))
        row.profile = {"kind": "binary"}

    title, body = await add_then_read(columns_gone)
    assert title == "Rainfall observations" and "water_level_cm" not in body
