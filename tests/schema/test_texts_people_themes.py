"""Researchers' names and themes' names and descriptions in each language (issue 20), read
through the compiled path and strawberry alike; the themes migration 0017 found seeded in
English are in `en`."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models import LanguageText, Researcher, Theme
from server.models.enums import AccountRole
from tests.schema.test_texts import both

TEXT = "{ lang value original translated }"
RESEARCHER = f"""mutation($input: CreateResearcherInput!) {{ createResearcher(input: $input) {{
    researcher {{ id nameEn nameLocal name names {TEXT} }} errors {{ field code }} }} }}"""
THEME = f"""mutation($input: CreateThemeInput!) {{ createTheme(input: $input) {{
    theme {{ id code name names {TEXT} description descriptions {TEXT} }}
    errors {{ field code }} }} }}"""
PEOPLE = f"""{{ researchers(first: 20) {{ nodes {{ nameEn nameLocal name names {TEXT}
    ja: name(lang: "ja") }} }} }}"""
THEMES = f"""{{ themes {{ code name names {TEXT} ja: name(lang: "ja") description
    descriptions {{ lang value }} thai: description(lang: "th") children {{ code name }} }} }}"""


async def test_researchers_names(admin, make_token, compiled_client, strawberry_client):
    yamada = (
        await admin(
            RESEARCHER,
            {
                "input": {
                    "names": [
                        {"lang": "ja", "value": "山田 太郎"},
                        {"lang": "ja-Latn", "value": "Yamada Taro"},
                        {"lang": "en", "value": "Taro Yamada"},
                    ]
                }
            },
        )
    )["createResearcher"]
    assert yamada["errors"] == []
    made = yamada["researcher"]
    assert (made["nameEn"], made["nameLocal"], made["name"]) == (
        "Taro Yamada",
        "山田 太郎",
        "Taro Yamada",
    )
    legacy = (
        await admin(RESEARCHER, {"input": {"nameEn": "Somchai Prasert", "nameLocal": "สมชาย"}})
    )["createResearcher"]["researcher"]
    assert [(t["lang"], t["value"], t["original"]) for t in legacy["names"]] == [
        ("und", "สมชาย", True),  # a person has no country here: undetermined
        ("en", "Somchai Prasert", False),
    ]
    token = await make_token(AccountRole.ADMIN)
    for language in (None, "ja", "ja-Latn", "th"):
        body = await both(compiled_client, strawberry_client, token, PEOPLE, {}, language)
        nodes = {n["nameEn"]: n for n in body["data"]["researchers"]["nodes"]}
        assert nodes["Taro Yamada"]["ja"] == "山田 太郎"
        expected = {None: "Taro Yamada", "ja": "山田 太郎", "ja-Latn": "Yamada Taro"}
        assert nodes["Taro Yamada"]["name"] == expected.get(language, "Taro Yamada")
    refused = (
        await admin(
            RESEARCHER,
            {"input": {"names": [{"lang": "ja", "value": "a"}, {"lang": "ja", "value": "b"}]}},
        )
    )["createResearcher"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        ("names[1].lang", "DUPLICATE_LANGUAGE")
    ]


async def test_theme_names_and_descriptions(
    admin, sessions, make_token, compiled_client, strawberry_client
):
    payload = (
        await admin(
            THEME,
            {
                "input": {
                    "names": [
                        {"lang": "en", "value": "Coastal Ecosystems"},
                        {"lang": "ja", "value": "沿岸生態系", "translated": True},
                    ],
                    "descriptions": [{"lang": "th", "value": "ระบบนิเวศชายฝั่ง"}],
                    "parentId": None,
                }
            },
        )
    )["createTheme"]
    assert payload["errors"] == []
    theme = payload["theme"]
    assert (theme["code"], theme["name"], theme["description"]) == (
        "coastal-ecosystems",
        "Coastal Ecosystems",
        "ระบบนิเวศชายฝั่ง",
    )
    token = await make_token(AccountRole.ADMIN)
    for language in (None, "ja", "th, en;q=0.5"):
        body = await both(compiled_client, strawberry_client, token, THEMES, {}, language)
        themes = {t["code"]: t for t in body["data"]["themes"]}
        coastal = themes["coastal-ecosystems"]
        assert coastal["ja"] == "沿岸生態系" and coastal["thai"] == "ระบบนิเวศชายฝั่ง"
        assert coastal["name"] == ("沿岸生態系" if language == "ja" else "Coastal Ecosystems")
        disaster = themes["disaster-prevention"]  # seeded by 0001 in English
        assert disaster["names"] == [
            {
                "lang": "en",
                "value": "Disaster Prevention and Mitigation",
                "original": True,
                "translated": False,
            }
        ]
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(Theme))
        texts = await session.scalar(select(func.count()).select_from(LanguageText))
    for bad, expected in (
        ({"names": []}, ("names", "REQUIRED")),
        ({"name": "X", "names": [{"lang": "en", "value": "Y"}]}, ("name", "CONFLICT")),
        (
            {
                "names": [{"lang": "en", "value": "Z"}],
                "descriptions": [{"lang": "??", "value": "d"}],
            },
            ("descriptions[0].lang", "INVALID_LANGUAGE_TAG"),
        ),
    ):
        errors = (await admin(THEME, {"input": bad}))["createTheme"]["errors"]
        assert expected in {(e["field"], e["code"]) for e in errors}, errors
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Theme)) == before
        assert await session.scalar(select(func.count()).select_from(LanguageText)) == texts
        assert await session.scalar(select(func.count()).select_from(Researcher)) == 0
