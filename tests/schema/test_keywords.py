"""A dataset's keywords in each language (issue 20): written as `keywordTexts [{lang, value,
translated}]` or as plain `keywords` (the originals, as before), read as `keywordTexts` and
`keywords(lang:)` with the fallback chain; every read is sent to the compiled path and to
strawberry and must answer the same. Bad lists are refused with their codes, write nothing."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from server.models import Dataset, DatasetKeyword
from server.models.enums import AccountRole
from tests.schema.test_datasets import dataset_input, setup_project
from tests.schema.test_texts import both

TEXT = "{ lang value original translated }"
CREATE = f"""mutation($input: CreateDatasetInput!) {{ createDataset(input: $input) {{
    dataset {{ id keywords keywordTexts {TEXT} }} errors {{ field code }} }} }}"""
UPDATE = f"""mutation($input: UpdateDatasetInput!) {{ updateDataset(input: $input) {{
    dataset {{ id keywords keywordTexts {TEXT} }} errors {{ field code }} }} }}"""
READ = f"""query($id: ID!, $lang: LanguageTag) {{ node(id: $id) {{ ... on Dataset {{
    keywords asked: keywords(lang: $lang) ja: keywords(lang: "ja") th: keywords(lang: "th")
    enGb: keywords(lang: "en-GB") keywordTexts {TEXT} }} }} }}"""
PAGE = f"""{{ datasets(first: 20) {{ nodes {{ keywords ja: keywords(lang: "ja")
    keywordTexts {TEXT} }} }} }}"""
KEYWORDS = [
    {"lang": "th", "value": "ระดับน้ำ"},
    {"lang": "th", "value": "แม่น้ำเจ้าพระยา"},
    {"lang": "en", "value": "water level", "translated": True},
    {"lang": "en", "value": "Chao Phraya", "translated": True},
    {"lang": "ja-JP", "value": "水位", "translated": True},
]


def pairs(texts):
    return [(t["lang"], t["value"], t["translated"]) for t in texts]


async def test_keywords_in_each_language(
    admin, factory, make_token, compiled_client, strawberry_client
):
    project, jp, _, _ = await setup_project(factory)
    payload = (await admin(CREATE, {"input": dataset_input(project, jp, keywordTexts=KEYWORDS)}))[
        "createDataset"
    ]
    assert payload["errors"] == []
    dataset = payload["dataset"]
    assert pairs(dataset["keywordTexts"]) == [
        (k["lang"], k["value"], k.get("translated", False)) for k in KEYWORDS
    ]
    assert [t["original"] for t in dataset["keywordTexts"]] == [True, True, False, False, False]
    assert dataset["keywords"] == ["water level", "Chao Phraya"]  # English before the original
    token = await make_token(AccountRole.ADMIN)
    for language, asked, expected in (
        (None, None, ["water level", "Chao Phraya"]),
        ("th", None, ["ระดับน้ำ", "แม่น้ำเจ้าพระยา"]),
        ("fr, ja;q=0.5", None, ["水位"]),  # ja matches ja-JP
        (None, "vi", ["water level", "Chao Phraya"]),  # no vi: English
    ):
        node = (
            await both(
                compiled_client,
                strawberry_client,
                token,
                READ,
                {"id": dataset["id"], "lang": asked},
                language,
            )
        )["data"]["node"]
        assert node["keywords"] == expected
        assert node["ja"] == ["水位"]
        assert node["th"] == ["ระดับน้ำ", "แม่น้ำเจ้าพระยา"]
        assert node["enGb"] == ["water level", "Chao Phraya"]
        await both(compiled_client, strawberry_client, token, PAGE, {}, language)
    # plain keywords: the originals replaced, in their language; the translations stay
    updated = (
        await admin(UPDATE, {"input": {"id": dataset["id"], "keywords": ["ฝน", "water level"]}})
    )["updateDataset"]
    assert updated["errors"] == []
    assert pairs(updated["dataset"]["keywordTexts"]) == [
        ("th", "ฝน", False),
        ("th", "water level", False),
        ("en", "water level", True),
        ("en", "Chao Phraya", True),
        ("ja-JP", "水位", True),
    ]
    cleared = (await admin(UPDATE, {"input": {"id": dataset["id"], "keywordTexts": []}}))[
        "updateDataset"
    ]["dataset"]
    assert cleared["keywords"] == [] and cleared["keywordTexts"] == []


async def test_plain_keywords_take_the_title_language(admin, factory, sessions):
    project, jp, _, _ = await setup_project(factory)
    values = dataset_input(project, jp, keywords=["洪水", " 洪水 ", "", "雨量"])
    del values["title"]
    values["titles"] = [{"lang": "ja", "value": "チャオプラヤ川の水位"}]
    dataset = (await admin(CREATE, {"input": values}))["createDataset"]["dataset"]
    assert pairs(dataset["keywordTexts"]) == [("ja", "洪水", False), ("ja", "雨量", False)]
    untitled = (await admin(CREATE, {"input": dataset_input(project, jp, keywords=["rain"])}))[
        "createDataset"
    ]["dataset"]
    assert pairs(untitled["keywordTexts"]) == [("und", "rain", False)]
    async with sessions() as session:
        columns = dict((await session.execute(select(Dataset.title, Dataset.keywords))).all())
    assert columns == {
        "チャオプラヤ川の水位": ["洪水", "雨量"],
        "Chao Phraya river gauges 2023": ["rain"],
    }


async def test_keywords_written_around_the_service(
    admin, factory, sessions, make_token, compiled_client, strawberry_client
):
    project, jp, _, _ = await setup_project(factory)
    dataset = (await admin(CREATE, {"input": dataset_input(project, jp)}))["createDataset"][
        "dataset"
    ]
    async with sessions() as session:  # the column alone, as a bulk load might write it
        row = (await session.scalars(select(Dataset))).one()
        row.keywords = ["rainfall", "ฝน"]
        await session.commit()
    token = await make_token(AccountRole.ADMIN)
    node = (
        await both(compiled_client, strawberry_client, token, READ, {"id": dataset["id"]}, "th")
    )["data"]["node"]
    assert node["keywords"] == ["rainfall", "ฝน"]
    assert pairs(node["keywordTexts"]) == [("und", "rainfall", False), ("und", "ฝน", False)]


async def test_bad_keywords_write_nothing(admin, factory, sessions):
    project, jp, _, _ = await setup_project(factory)
    values = dataset_input(project, jp)
    for keywords, expected in (
        (
            [{"lang": "en", "value": "Rain"}, {"lang": "en", "value": "rain"}],
            ("keywordTexts[1].value", "DUPLICATE"),
        ),
        ([{"lang": "en-", "value": "rain"}], ("keywordTexts[0].lang", "INVALID_LANGUAGE_TAG")),
        ([{"lang": "qqq-x", "value": "rain"}], ("keywordTexts[0].lang", "INVALID_LANGUAGE_TAG")),
        ([{"lang": "xyz", "value": "rain"}], ("keywordTexts[0].lang", "UNKNOWN_LANGUAGE")),
        ([{"lang": "en", "value": "  "}], ("keywordTexts[0].value", "REQUIRED")),
        ([{"lang": "en", "value": "x" * 101}], ("keywordTexts[0].value", "TOO_LONG")),
        ([{"lang": "en", "value": "rain", "translated": True}], ("keywordTexts", "NO_ORIGINAL")),
        ([{"lang": "en", "value": f"k{i}"} for i in range(51)], ("keywordTexts", "TOO_MANY")),
    ):
        payload = await admin(CREATE, {"input": {**values, "keywordTexts": keywords}})
        errors = payload["createDataset"]["errors"]
        assert expected in {(e["field"], e["code"]) for e in errors}, (keywords[:2], errors)
    conflict = {**values, "keywords": ["snow"], "keywordTexts": [{"lang": "en", "value": "rain"}]}
    errors = (await admin(CREATE, {"input": conflict}))["createDataset"]["errors"]
    assert ("keywords", "CONFLICT") in {(e["field"], e["code"]) for e in errors}
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Dataset)) == 0
        assert await session.scalar(select(func.count()).select_from(DatasetKeyword)) == 0
    created = (
        await admin(
            CREATE, {"input": {**values, "keywordTexts": [{"lang": "en", "value": "rain"}]}}
        )
    )["createDataset"]["dataset"]
    refused = (
        await admin(
            UPDATE,
            {
                "input": {
                    "id": created["id"],
                    "title": "Renamed",
                    "keywordTexts": [{"lang": "th", "value": "ฝน"}, {"lang": "TH", "value": "ฝน"}],
                }
            },
        )
    )["updateDataset"]
    assert ("keywordTexts[1].value", "DUPLICATE") in {
        (e["field"], e["code"]) for e in refused["errors"]
    }
    async with sessions() as session:  # the update wrote nothing either
        assert await session.scalar(select(Dataset.title)) == "Chao Phraya river gauges 2023"
        rows = (await session.execute(select(DatasetKeyword.lang, DatasetKeyword.value))).all()
        assert [tuple(r) for r in rows] == [("en", "rain")]


async def test_the_readme_example(admin, factory):
    """The README's multilingual example answers as its comments say."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("A dataset's **keywords**")
    example = re.search(r"```graphql\n(.*?)```", readme[start:], re.S)
    assert example is not None
    project, jp, _, _ = await setup_project(factory)
    created = (await admin(CREATE, {"input": dataset_input(project, jp)}))["createDataset"]
    answer = (await admin(example.group(1), {"id": created["dataset"]["id"]}))["updateDataset"]
    assert answer["errors"] == []
    dataset = answer["dataset"]
    assert dataset["title"] == "ระดับน้ำแม่น้ำเจ้าพระยา"
    assert dataset["ja"] == "チャオプラヤ川の水位"
    assert dataset["keywords"] == ["water level"]
    assert dataset["th"] == ["ระดับน้ำ", "น้ำท่วม"]
    assert dataset["jaJp"] == ["水位"]
    assert [t["original"] for t in dataset["keywordTexts"]] == [True, True, False, False]
