"""Language-tagged texts of projects (issue 20): written as `[{lang, value, translated}]`,
read as `titles { lang value original translated }` and `title(lang:)` with the fallback
chain (asked, Accept-Language, English, original); every read is sent to the compiled path
(twice: the second may take the fast path) and to strawberry, with the same headers, and
the answers must be identical. Bad input is refused with its code and writes nothing."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import httpx
from sqlalchemy import func, select

from server.core.metrics import ROOT_FIELDS
from server.models import LanguageText, Project
from server.models.enums import AccountRole

TEXT = "{ lang value original translated }"
CREATE = f"""mutation($input: CreateProjectInput!) {{
  createProject(input: $input) {{
    project {{ id title titles {TEXT} acronym acronyms {TEXT} summary summaries {TEXT} }}
    errors {{ field code message }} }} }}"""
UPDATE = f"""mutation($input: UpdateProjectInput!) {{
  updateProject(input: $input) {{
    project {{ id title titles {TEXT} acronym acronyms {TEXT} }}
    errors {{ field code message }} }} }}"""
READ = f"""query($id: ID!, $lang: LanguageTag) {{ node(id: $id) {{ ... on Project {{
    title titles {TEXT} asked: title(lang: $lang) ja: title(lang: "ja") th: title(lang: "th")
    enGb: title(lang: "en-GB") acronym acronymJa: acronym(lang: "ja") acronyms {TEXT}
    summary summaries {{ lang value }} }} }} }}"""
PAGE = f"""{{ projects(first: 50) {{ nodes {{ title titles {TEXT} jp: title(lang: "ja")
    summary(lang: "en") }} }} }}"""
TITLES = [
    {"lang": "ja", "value": "東南アジアの洪水早期警報"},
    {"lang": "en", "value": "Flood early warning for Southeast Asia", "translated": True},
    {"lang": "th", "value": "ระบบเตือนภัยน้ำท่วมล่วงหน้า", "translated": True},
]


async def both(
    compiled: httpx.AsyncClient,
    resolved: httpx.AsyncClient,
    token: str,
    query: str,
    variables: dict[str, Any],
    language: str | None = None,
) -> dict[str, Any]:
    """The answer, the same from the compiled path (twice) and from strawberry."""
    headers = {"Authorization": f"Bearer {token}"}
    if language is not None:
        headers["Accept-Language"] = language
    body = {"query": query, "variables": variables}
    answers = []
    by_strawberry = ROOT_FIELDS.labels("resolved")._value.get()
    for http in (compiled, compiled, resolved):
        response = await http.post("/graphql", json=body, headers=headers)
        answers.append((response.status_code, response.json()))
        if http is compiled:  # the compiled path answered (strawberry's twin is the other)
            assert ROOT_FIELDS.labels("resolved")._value.get() == by_strawberry, query
    assert answers[0] == answers[1] == answers[2], json.dumps(answers, ensure_ascii=False)[:2000]
    return answers[0][1]


async def create(manager, **values: Any) -> dict[str, Any]:
    payload = (await manager(CREATE, {"input": values}))["createProject"]
    assert payload["errors"] == [], payload["errors"]
    return payload["project"]


async def test_titles_in_each_language_and_the_fallback_chain(
    manager, make_token, compiled_client, strawberry_client
):
    project = await create(
        manager,
        titles=TITLES,
        acronyms=[{"lang": "en", "value": "FLEWS"}],
        summary="Early warning.",
    )
    assert project["title"] == "Flood early warning for Southeast Asia"  # English first
    assert project["titles"] == [
        {"lang": "ja", "value": TITLES[0]["value"], "original": True, "translated": False},
        {"lang": "en", "value": TITLES[1]["value"], "original": False, "translated": True},
        {"lang": "th", "value": TITLES[2]["value"], "original": False, "translated": True},
    ]
    assert project["summaries"] == [
        {"lang": "und", "value": "Early warning.", "original": True, "translated": False}
    ]
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    read = {"id": project["id"], "lang": None}
    plain = (await both(compiled_client, strawberry_client, token, READ, read))["data"]["node"]
    assert (plain["title"], plain["asked"], plain["ja"], plain["th"], plain["enGb"]) == (
        TITLES[1]["value"],
        TITLES[1]["value"],
        TITLES[0]["value"],
        TITLES[2]["value"],
        TITLES[1]["value"],  # en-GB: English, the same language
    )
    assert (plain["acronym"], plain["acronymJa"]) == ("FLEWS", "FLEWS")  # the original
    japanese = await both(compiled_client, strawberry_client, token, READ, read, "ja")
    assert japanese["data"]["node"]["title"] == TITLES[0]["value"]
    weighted = "fr;q=0.9, th;q=0.8, ja;q=0.5, *;q=0.1"
    thai = await both(compiled_client, strawberry_client, token, READ, read, weighted)
    assert thai["data"]["node"]["title"] == TITLES[2]["value"]  # no French: Thai before Japanese
    asked = await both(
        compiled_client, strawberry_client, token, READ, {**read, "lang": "JA"}, "th"
    )
    assert asked["data"]["node"]["asked"] == TITLES[0]["value"]  # the asked language first
    for language in (None, "ja", "th-TH, en;q=0.1", "garbage;;q=x, ,"):
        await both(compiled_client, strawberry_client, token, PAGE, {}, language)


async def test_the_original_is_the_last_resort(
    manager, make_token, compiled_client, strawberry_client
):
    project = await create(manager, titles=[{"lang": "vi", "value": "Cảnh báo lũ sớm"}])
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    read = {"id": project["id"], "lang": "km"}
    node = (await both(compiled_client, strawberry_client, token, READ, read, "de"))["data"]["node"]
    assert node["title"] == node["asked"] == node["ja"] == "Cảnh báo lũ sớm"
    assert node["acronym"] is None and node["acronyms"] == [] and node["summaries"] == []


async def test_the_single_fields_read_and_write_as_before(
    manager, sessions, make_token, compiled_client, strawberry_client
):
    project = await create(manager, title="Coral reefs", acronym="CORE")
    assert project["titles"] == [
        {"lang": "und", "value": "Coral reefs", "original": True, "translated": False}
    ]
    updated = (
        await manager(
            UPDATE,
            {
                "input": {
                    "id": project["id"],
                    "titles": [
                        {"lang": "en", "value": "Coral reefs"},
                        {"lang": "id", "value": "Terumbu karang", "translated": True},
                    ],
                }
            },
        )
    )["updateProject"]
    assert updated["errors"] == []
    renamed = (
        await manager(UPDATE, {"input": {"id": project["id"], "title": "Coral reefs of Bali"}})
    )["updateProject"]
    assert renamed["project"]["title"] == "Coral reefs of Bali"  # the original, rewritten
    assert [t["value"] for t in renamed["project"]["titles"]] == [
        "Coral reefs of Bali",
        "Terumbu karang",
    ]
    async with sessions() as session:
        row = await session.get(Project, int(_pk(project["id"])))
        assert row is not None and row.title == "Coral reefs of Bali"
    cleared = await manager(UPDATE, {"input": {"id": project["id"], "acronyms": []}})
    assert cleared["updateProject"]["project"]["acronym"] is None
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    node = (
        await both(compiled_client, strawberry_client, token, READ, {"id": project["id"]}, "id")
    )["data"]["node"]
    assert node["title"] == "Terumbu karang" and node["acronyms"] == []


def _pk(global_id: str) -> str:
    import base64

    return base64.b64decode(global_id).decode().split(":")[1]


async def test_bad_texts_are_refused_with_their_codes_and_write_nothing(manager, sessions):
    cases = [
        ([{"lang": "xx", "value": "a"}], ("titles[0].lang", "UNKNOWN_LANGUAGE")),
        ([{"lang": "en--", "value": "a"}], ("titles[0].lang", "INVALID_LANGUAGE_TAG")),
        ([{"lang": "日本語", "value": "a"}], ("titles[0].lang", "INVALID_LANGUAGE_TAG")),
        ([{"lang": "", "value": "a"}], ("titles[0].lang", "INVALID_LANGUAGE_TAG")),
        (
            [{"lang": "ja", "value": "a"}, {"lang": "JA", "value": "b"}],
            ("titles[1].lang", "DUPLICATE_LANGUAGE"),
        ),
        ([{"lang": "ja", "value": " \u3000 "}], ("titles[0].value", "REQUIRED")),
        ([{"lang": "ja", "value": "a\x00b"}], ("titles[0].value", "INVALID_TEXT")),
        ([{"lang": "en", "value": "a", "translated": True}], ("titles", "NO_ORIGINAL")),
        ([], ("titles", "REQUIRED")),
    ]
    async with sessions() as session:
        before = await session.scalar(select(func.count()).select_from(Project))
    for titles, expected in cases:
        payload = (await manager(CREATE, {"input": {"titles": titles}}))["createProject"]
        assert payload["project"] is None
        assert expected in {(e["field"], e["code"]) for e in payload["errors"]}, (titles, payload)
    conflict = (
        await manager(CREATE, {"input": {"title": "A", "titles": [{"lang": "en", "value": "B"}]}})
    )["createProject"]
    assert [(e["field"], e["code"]) for e in conflict["errors"]] == [("title", "CONFLICT")]
    missing = (await manager(CREATE, {"input": {"acronym": "X"}}))["createProject"]
    assert [(e["field"], e["code"]) for e in missing["errors"]] == [("title", "REQUIRED")]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Project)) == before
        owned = select(func.count()).where(LanguageText.project_id.is_not(None))
        assert await session.scalar(owned) == 0
    project = await create(manager, title="Kept")
    refused = (
        await manager(
            UPDATE,
            {
                "input": {
                    "id": project["id"],
                    "title": "Changed",
                    "acronyms": [{"lang": "ja", "value": "x"}, {"lang": "ja", "value": "y"}],
                }
            },
        )
    )["updateProject"]
    assert [e["code"] for e in refused["errors"]] == ["DUPLICATE_LANGUAGE"]
    async with sessions() as session:
        row = await session.get(Project, int(_pk(project["id"])))
        assert row is not None and row.title == "Kept"  # nothing half-written
        texts = (
            await session.scalars(
                select(LanguageText.value).where(LanguageText.project_id.is_not(None))
            )
        ).all()
        assert texts == ["Kept"]


async def test_a_lone_surrogate_is_refused_with_its_code(manager, sessions):
    """JSON may escape half a UTF-16 pair (`\\ud800`): it decodes to a string no database
    stores. It is INVALID_TEXT at its field, in a list of texts or a single field, and
    nothing is written (it was an unexpected error before)."""
    cases = [
        ({"titles": [{"lang": "en", "value": "Flood \ud800 warning"}]}, "titles[0].value"),
        (
            {"titles": [{"lang": "ja", "value": "洪水"}, {"lang": "en", "value": "\udc00"}]},
            "titles[1].value",
        ),
        ({"title": "Flood \udbff warning"}, "title"),
    ]
    for values, field in cases:
        # httpx cannot encode the lone surrogate as UTF-8: send the JSON escape as written
        body = json.dumps({"query": CREATE, "variables": {"input": values}})
        response = await manager.http.post(
            "/graphql",
            content=body.encode("ascii"),
            headers={
                "Authorization": f"Bearer {manager.token}",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200, response.text
        payload = response.json()["data"]["createProject"]
        assert payload["project"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, "INVALID_TEXT")]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Project)) == 0
        owned = select(func.count()).where(LanguageText.project_id.is_not(None))
        assert await session.scalar(owned) == 0


async def test_scripts_directions_and_combining_characters(manager):
    decomposed = "Vie\u0323\u0302t Nam"  # NFD: e, combining dot below, combining circumflex
    values = [
        {"lang": "vi", "value": decomposed},
        {"lang": "ar", "value": "الإنذار المبكر بالفيضانات", "translated": True},
        {"lang": "ja-Latn", "value": "Kōzui 洪水 keihō", "translated": True},
        {"lang": "sr-Cyrl", "value": "Поплаве", "translated": True},
        {"lang": "pt-br", "value": "Alerta precoce", "translated": True},
        {"lang": "i-klingon", "value": "tlhIngan", "translated": True},
    ]
    project = await create(manager, titles=values)
    assert [(t["lang"], t["value"]) for t in project["titles"]] == [
        ("vi", unicodedata.normalize("NFC", decomposed)),
        ("ar", "الإنذار المبكر بالفيضانات"),
        ("ja-Latn", "Kōzui 洪水 keihō"),
        ("sr-Cyrl", "Поплаве"),
        ("pt-BR", "Alerta precoce"),  # the standard form of each tag
        ("tlh", "tlhIngan"),
    ]
    assert project["title"] == "Việt Nam"  # no English: the original


async def test_a_bad_language_asked_is_a_query_error(
    manager, make_token, compiled_client, strawberry_client
):
    project = await create(manager, title="T")
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    for lang, code in (("xx", "UNKNOWN_LANGUAGE"), ("not a tag", "INVALID_LANGUAGE_TAG")):
        body = await both(
            compiled_client, strawberry_client, token, READ, {"id": project["id"], "lang": lang}
        )
        assert body.get("data") is None  # refused before it runs
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    inline = READ.replace("title(lang: $lang)", 'title(lang: "zz-9")').replace(
        ", $lang: LanguageTag", ""
    )
    body = await both(compiled_client, strawberry_client, token, inline, {"id": project["id"]})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_LANGUAGE_TAG"], body


def readme_example() -> tuple[str, str]:
    """The mutation and the query the README's "Text in every language" shows."""
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("### Text in every language") :]
    start = section.index("```graphql\n") + 11
    block = section[start : section.index("\n```", start)]
    mutation, query = block.split("\n\nquery", 1)
    return mutation, "query" + query


async def test_the_readme_example(manager, make_token, compiled_client, strawberry_client):
    mutation, query = readme_example()
    payload = (await manager(mutation))["createProject"]
    assert payload["errors"] == []
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    read = {"id": payload["project"]["id"]}
    plain = (await both(compiled_client, strawberry_client, token, query, read))["data"]["node"]
    assert (plain["title"], plain["ja"], plain["km"]) == (
        TITLES[1]["value"],
        TITLES[0]["value"],
        TITLES[1]["value"],
    )
    assert plain["titles"][0] == {
        "lang": "ja",
        "value": TITLES[0]["value"],
        "original": True,
        "translated": False,
    }
    thai = await both(compiled_client, strawberry_client, token, query, read, "th, ja;q=0.8")
    assert thai["data"]["node"]["title"] == thai["data"]["node"]["km"] == TITLES[2]["value"]
    french = await both(compiled_client, strawberry_client, token, query, read, "fr")
    assert french["data"]["node"]["title"] == TITLES[1]["value"]
