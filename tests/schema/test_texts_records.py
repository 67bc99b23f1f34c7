"""Institutions' acronyms, training courses' titles and outcome notes, PDM elements' and
indicators' descriptions in each language (issue 20): written through their mutations (a
list, or one value as before, which writes the original), read alike by the compiled path
and strawberry with the fallback chain, bad lists refused with their codes writing nothing.
Monitoring reports, evaluations, follow-ups and data use agreements:
test_texts_evaluations.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from server.models import Indicator, Institution, LanguageText, PdmElement, TrainingCourse
from server.models.enums import AccountRole, InstitutionRole
from tests.factories import gid
from tests.schema.test_texts import both

TEXT = "{ lang value original translated }"
ERRORS = "errors { field code }"


def pairs(texts: list[dict[str, Any]]) -> list[tuple[str, str, bool, bool]]:
    return [(t["lang"], t["value"], t["original"], t["translated"]) for t in texts]


def codes(payload: dict[str, Any]) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def count(sessions: Any, model: Any, owner: str) -> tuple[int, int]:
    """The owner table's rows and the language_texts rows the owner column holds."""
    async with sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(model))
        texts = await session.scalar(
            select(func.count()).where(getattr(LanguageText, owner).is_not(None))
        )
    return rows or 0, texts or 0


async def read_alike(
    compiled_client: Any, strawberry_client: Any, token: str, query: str, node: str
) -> dict[str, dict[str, Any]]:
    """The node as each Accept-Language reads it (the same on both paths)."""
    return {
        str(language): (
            await both(compiled_client, strawberry_client, token, query, {"id": node}, language)
        )["data"]["node"]
        for language in (None, "th", "ja, en;q=0.5")
    }


# ---- institutions' acronyms ----------------------------------------------------------------

INSTITUTION = f"""mutation($input: CreateInstitutionInput!) {{ createInstitution(input: $input) {{
    institution {{ id acronym acronyms {TEXT} }} {ERRORS} }} }}"""
UPDATE_INSTITUTION = f"""mutation($input: UpdateInstitutionInput!) {{
  updateInstitution(input: $input) {{ institution {{ acronym acronyms {TEXT} }} {ERRORS} }} }}"""
READ_INSTITUTION = f"""query($id: ID!) {{ node(id: $id) {{ ... on Institution {{ nameEn acronym
    acronyms {TEXT} en: acronym(lang: "en") th: acronym(lang: "th-TH") }} }} }}"""


async def test_institution_acronyms(
    admin, make_token, sessions, compiled_client, strawberry_client
):
    acronyms = [{"lang": "th", "value": "จฬ."}, {"lang": "en", "value": "CU", "translated": True}]
    payload = (
        await admin(
            INSTITUTION,
            {
                "input": {
                    "nameEn": "Chulalongkorn University",
                    "acronyms": acronyms,
                    "country": "TH",
                    "kind": "UNIVERSITY",
                }
            },
        )
    )["createInstitution"]
    assert payload["errors"] == []
    institution = payload["institution"]
    assert pairs(institution["acronyms"]) == [("th", "จฬ.", True, False), ("en", "CU", False, True)]
    token = await make_token(AccountRole.ADMIN)
    read = await read_alike(
        compiled_client, strawberry_client, token, READ_INSTITUTION, institution["id"]
    )
    assert [r["acronym"] for r in read.values()] == ["CU", "จฬ.", "CU"]  # English, th, en
    assert {(r["en"], r["th"]) for r in read.values()} == {("CU", "จฬ.")}
    async with sessions() as session:  # the column keeps the original
        assert await session.scalar(select(Institution.acronym)) == "จฬ."
    # one value, as before: the original changes, the translation stays
    updated = (
        await admin(UPDATE_INSTITUTION, {"input": {"id": institution["id"], "acronym": "จุฬาฯ"}})
    )["updateInstitution"]
    assert pairs(updated["institution"]["acronyms"]) == [
        ("th", "จุฬาฯ", True, False),
        ("en", "CU", False, True),
    ]
    # an institution written with one acronym: the original, in und
    plain = (
        await admin(
            INSTITUTION,
            {
                "input": {
                    "nameEn": "Kyoto University",
                    "acronym": "KU",
                    "country": "JP",
                    "kind": "UNIVERSITY",
                }
            },
        )
    )["createInstitution"]["institution"]
    assert pairs(plain["acronyms"]) == [("und", "KU", True, False)]
    cleared = (await admin(UPDATE_INSTITUTION, {"input": {"id": plain["id"], "acronym": None}}))[
        "updateInstitution"
    ]["institution"]
    assert (cleared["acronym"], cleared["acronyms"]) == (None, [])
    before = await count(sessions, Institution, "institution_id")
    for acronyms_sent, expected in (
        (
            [{"lang": "en", "value": "A"}, {"lang": "EN", "value": "B"}],
            ("acronyms[1].lang", "DUPLICATE_LANGUAGE"),
        ),
        ([{"lang": "en", "value": "A" * 33}], ("acronyms[0].value", "TOO_LONG")),
        ([{"lang": "en", "value": "A", "translated": True}], ("acronyms", "NO_ORIGINAL")),
        ([{"lang": "xx", "value": "A"}], ("acronyms[0].lang", "UNKNOWN_LANGUAGE")),
    ):
        refused = (
            await admin(
                INSTITUTION,
                {
                    "input": {
                        "nameEn": "Mahidol University",
                        "acronyms": acronyms_sent,
                        "country": "TH",
                        "kind": "UNIVERSITY",
                    }
                },
            )
        )["createInstitution"]
        assert expected in codes(refused), refused
        bad_update = {"id": institution["id"], "acronyms": acronyms_sent}
        refused = (await admin(UPDATE_INSTITUTION, {"input": bad_update}))["updateInstitution"]
        assert expected in codes(refused), refused
    assert await count(sessions, Institution, "institution_id") == before
    node = await both(
        compiled_client, strawberry_client, token, READ_INSTITUTION, {"id": institution["id"]}
    )
    assert node["data"]["node"]["acronym"] == "CU"  # the refused updates wrote nothing


# ---- training courses ------------------------------------------------------------------------

COURSE_FIELDS = f"id title titles {TEXT} outcomeNotes outcomeNotesTexts {TEXT}"
COURSE = f"""mutation($input: CreateTrainingCourseInput!) {{ createTrainingCourse(input: $input) {{
    trainingCourse {{ {COURSE_FIELDS} }} {ERRORS} }} }}"""
UPDATE_COURSE = f"""mutation($input: UpdateTrainingCourseInput!) {{
  updateTrainingCourse(input: $input) {{ trainingCourse {{ {COURSE_FIELDS} }} {ERRORS} }} }}"""
READ_COURSE = f"""query($id: ID!) {{ node(id: $id) {{ ... on TrainingCourse {{ title
    titles {TEXT} ja: title(lang: "ja") outcomeNotes outcomeNotesTexts {TEXT}
    th: outcomeNotes(lang: "th") project {{ trainingCourses {{ title(lang: "en") }} }} }} }} }}"""


async def test_training_course_titles_and_outcome_notes(
    admin, factory, make_token, sessions, compiled_client, strawberry_client
):
    project = await factory.project(countries=("TH",))
    jp = await factory.institution("JP")
    await factory.link(project.id, jp.id, InstitutionRole.JAPANESE_LEAD)
    base = {
        "projectId": gid("Project", project.id),
        "courseType": "COUNTRY_FOCUS",
        "hostCountry": "JP",
        "startDate": "2023-06-01",
    }
    titles = [
        {"lang": "ja", "value": "斜面災害リスク評価"},
        {"lang": "en", "value": "Landslide risk assessment", "translated": True},
    ]
    notes = [{"lang": "th", "value": "ผู้เข้าอบรม 12 คน"}]
    payload = (
        await admin(COURSE, {"input": {**base, "titles": titles, "outcomeNotesTexts": notes}})
    )["createTrainingCourse"]
    assert payload["errors"] == []
    course = payload["trainingCourse"]
    assert (course["title"], course["outcomeNotes"]) == (
        "Landslide risk assessment",
        "ผู้เข้าอบรม 12 คน",
    )
    assert pairs(course["titles"]) == [
        ("ja", "斜面災害リスク評価", True, False),
        ("en", "Landslide risk assessment", False, True),
    ]
    token = await make_token(AccountRole.ADMIN)
    read = await read_alike(compiled_client, strawberry_client, token, READ_COURSE, course["id"])
    assert [r["title"] for r in read.values()] == [
        "Landslide risk assessment",
        "Landslide risk assessment",  # no Thai title: English
        "斜面災害リスク評価",
    ]
    assert {r["ja"] for r in read.values()} == {"斜面災害リスク評価"}
    async with sessions() as session:
        row = await session.scalar(select(TrainingCourse))
        assert (row.title, row.outcome_notes) == ("斜面災害リスク評価", "ผู้เข้าอบรม 12 คน")
    updated = (
        await admin(UPDATE_COURSE, {"input": {"id": course["id"], "title": "斜面リスク評価"}})
    )["updateTrainingCourse"]["trainingCourse"]
    assert [t["value"] for t in updated["titles"]] == [
        "斜面リスク評価",
        "Landslide risk assessment",
    ]
    plain = (await admin(COURSE, {"input": {**base, "title": "GIS", "outcomeNotes": "Done"}}))[
        "createTrainingCourse"
    ]["trainingCourse"]
    assert pairs(plain["titles"]) == [("und", "GIS", True, False)]
    assert pairs(plain["outcomeNotesTexts"]) == [("und", "Done", True, False)]
    before = await count(sessions, TrainingCourse, "course_id")
    for sent, expected in (
        ({}, ("title", "REQUIRED")),
        ({"titles": []}, ("titles", "REQUIRED")),
        ({"title": "A", "titles": [{"lang": "en", "value": "B"}]}, ("title", "CONFLICT")),
        (
            {"title": "A", "outcomeNotesTexts": [{"lang": "en", "value": "\u0000"}]},
            ("outcomeNotesTexts[0].value", "INVALID_TEXT"),
        ),
        (
            {"title": "A", "outcomeNotesTexts": [{"lang": "en-", "value": "x"}]},
            ("outcomeNotesTexts[0].lang", "INVALID_LANGUAGE_TAG"),
        ),
    ):
        refused = (await admin(COURSE, {"input": {**base, **sent}}))["createTrainingCourse"]
        assert expected in codes(refused), refused
    refused = (
        await admin(
            UPDATE_COURSE,
            {
                "input": {
                    "id": course["id"],
                    "title": "X",
                    "titles": [{"lang": "en", "value": "  "}],
                }
            },
        )
    )["updateTrainingCourse"]
    assert ("titles[0].value", "REQUIRED") in codes(refused)
    assert await count(sessions, TrainingCourse, "course_id") == before
    again = await both(compiled_client, strawberry_client, token, READ_COURSE, {"id": course["id"]})
    assert again["data"]["node"]["ja"] == "斜面リスク評価"


# ---- the design matrix ------------------------------------------------------------------------

ELEMENT = f"""mutation($input: AddPdmElementInput!) {{ addPdmElement(input: $input) {{
    element {{ id description descriptions {TEXT} }} {ERRORS} }} }}"""
UPDATE_ELEMENT = f"""mutation($input: UpdatePdmElementInput!) {{ updatePdmElement(input: $input) {{
    element {{ description descriptions {TEXT} }} {ERRORS} }} }}"""
INDICATOR = f"""mutation($input: AddIndicatorInput!) {{ addIndicator(input: $input) {{
    indicator {{ id description descriptions {TEXT} }} {ERRORS} }} }}"""
READ_ELEMENT = f"""query($id: ID!) {{ node(id: $id) {{ ... on PdmElement {{ description
    descriptions {TEXT} vi: description(lang: "vi") indicators {{ description
      descriptions {TEXT} en: description(lang: "en") }} }} }} }}"""


async def test_design_matrix_descriptions(
    admin, factory, make_token, sessions, compiled_client, strawberry_client
):
    project = await factory.project(countries=("VN",))
    goal = (
        await admin(
            ELEMENT,
            {
                "input": {
                    "projectId": gid("Project", project.id),
                    "level": "OVERALL_GOAL",
                    "descriptions": [
                        {"lang": "vi", "value": "Giảm thiệt hại do lũ"},
                        {"lang": "en", "value": "Less flood damage", "translated": True},
                    ],
                }
            },
        )
    )["addPdmElement"]
    assert goal["errors"] == []
    element = goal["element"]
    indicator = (
        await admin(
            INDICATOR,
            {
                "input": {
                    "elementId": element["id"],
                    "unit": "VND",
                    "descriptions": [
                        {"lang": "ja", "value": "洪水被害額"},
                        {"lang": "en", "value": "Flood losses", "translated": True},
                    ],
                }
            },
        )
    )["addIndicator"]
    assert indicator["errors"] == []
    assert indicator["indicator"]["description"] == "Flood losses"
    token = await make_token(AccountRole.ADMIN)
    read = await read_alike(compiled_client, strawberry_client, token, READ_ELEMENT, element["id"])
    assert [r["description"] for r in read.values()] == [
        "Less flood damage",
        "Less flood damage",
        "Less flood damage",  # no Japanese: English
    ]
    assert [r["indicators"][0]["description"] for r in read.values()] == [
        "Flood losses",
        "Flood losses",
        "洪水被害額",
    ]
    assert {r["vi"] for r in read.values()} == {"Giảm thiệt hại do lũ"}
    updated = (
        await admin(
            UPDATE_ELEMENT,
            {"input": {"id": element["id"], "descriptions": [{"lang": "vi", "value": "Ít lũ"}]}},
        )
    )["updatePdmElement"]["element"]
    assert (updated["description"], pairs(updated["descriptions"])) == (
        "Ít lũ",
        [("vi", "Ít lũ", True, False)],
    )
    async with sessions() as session:
        assert await session.scalar(select(PdmElement.description)) == "Ít lũ"
        assert await session.scalar(select(Indicator.description)) == "洪水被害額"
    plain = (
        await admin(
            INDICATOR, {"input": {"elementId": element["id"], "unit": "km", "description": "Dykes"}}
        )
    )["addIndicator"]
    assert pairs(plain["indicator"]["descriptions"]) == [("und", "Dykes", True, False)]
    elements = await count(sessions, PdmElement, "pdm_element_id")
    indicators = await count(sessions, Indicator, "indicator_id")
    output = {"projectId": gid("Project", project.id), "level": "OUTPUT"}
    for sent, expected in (
        ({}, ("description", "REQUIRED")),
        (
            {"descriptions": [{"lang": "ja", "value": "a"}, {"lang": "jpn", "value": "b"}]},
            ("descriptions[1].lang", "DUPLICATE_LANGUAGE"),
        ),
    ):
        refused = (await admin(ELEMENT, {"input": {**output, **sent}}))["addPdmElement"]
        assert expected in codes(refused), refused
        refused = (
            await admin(INDICATOR, {"input": {"elementId": element["id"], "unit": "km", **sent}})
        )["addIndicator"]
        assert expected in codes(refused), refused
    refused = (await admin(UPDATE_ELEMENT, {"input": {"id": element["id"], "descriptions": []}}))[
        "updatePdmElement"
    ]
    assert ("descriptions", "REQUIRED") in codes(refused)
    assert await count(sessions, PdmElement, "pdm_element_id") == elements
    assert await count(sessions, Indicator, "indicator_id") == indicators
