"""Datasets' titles and descriptions and learning materials' titles in each language (issue
20), written through their mutations and read alike by the compiled path and strawberry."""

from __future__ import annotations

from sqlalchemy import func, select

from server.models import Dataset, LanguageText, LearningMaterial
from server.models.enums import AccountRole, MaterialKind
from tests.factories import gid
from tests.schema.test_datasets import dataset_input, setup_project
from tests.schema.test_texts import both

TEXT = "{ lang value original translated }"
CREATE = f"""mutation($input: CreateDatasetInput!) {{ createDataset(input: $input) {{
    dataset {{ id title titles {TEXT} description descriptions {TEXT} }}
    errors {{ field code }} }} }}"""
UPDATE = f"""mutation($input: UpdateDatasetInput!) {{ updateDataset(input: $input) {{
    dataset {{ id title titles {TEXT} description }} errors {{ field code }} }} }}"""
READ = f"""query($id: ID!) {{ node(id: $id) {{ ... on Dataset {{ title titles {TEXT}
    th: title(lang: "th") description descriptions {TEXT} en: description(lang: "en")
    project {{ title }} }} }} }}"""
PAGE = f"""{{ datasets(first: 20) {{ nodes {{ title titles {TEXT} ja: title(lang: "ja")
    description(lang: "th") }} }} }}"""


async def test_dataset_titles_and_descriptions(
    admin, factory, make_token, compiled_client, strawberry_client
):
    project, jp, _, _ = await setup_project(factory)
    values = dataset_input(project, jp)
    del values["title"]
    payload = (
        await admin(
            CREATE,
            {
                "input": {
                    **values,
                    "titles": [
                        {"lang": "th", "value": "มาตรวัดระดับน้ำเจ้าพระยา 2566"},
                        {
                            "lang": "en",
                            "value": "Chao Phraya river gauges 2023",
                            "translated": True,
                        },
                    ],
                    "descriptions": [{"lang": "en", "value": "Hourly levels."}],
                }
            },
        )
    )["createDataset"]
    assert payload["errors"] == []
    dataset = payload["dataset"]
    assert dataset["title"] == "Chao Phraya river gauges 2023"
    assert [t["lang"] for t in dataset["titles"]] == ["th", "en"]
    token = await make_token(AccountRole.ADMIN)
    for language in (None, "th", "ja, fr"):
        node = (
            await both(
                compiled_client, strawberry_client, token, READ, {"id": dataset["id"]}, language
            )
        )["data"]["node"]
        assert node["th"] == "มาตรวัดระดับน้ำเจ้าพระยา 2566"
        assert node["en"] == "Hourly levels."
        thai = language == "th"
        assert node["title"] == (
            "มาตรวัดระดับน้ำเจ้าพระยา 2566" if thai else "Chao Phraya river gauges 2023"
        )
        await both(compiled_client, strawberry_client, token, PAGE, {}, language)
    renamed = (await admin(UPDATE, {"input": {"id": dataset["id"], "title": "เจ้าพระยา"}}))[
        "updateDataset"
    ]["dataset"]
    assert [(t["lang"], t["value"]) for t in renamed["titles"]] == [
        ("th", "เจ้าพระยา"),
        ("en", "Chao Phraya river gauges 2023"),
    ]


async def test_bad_dataset_texts_write_nothing(admin, factory, sessions):
    project, jp, _, _ = await setup_project(factory)
    values = dataset_input(project, jp)
    for extra, expected in (
        ({"titles": [{"lang": "en", "value": "X"}]}, ("title", "CONFLICT")),
        (
            {
                "descriptions": [
                    {"lang": "en", "value": "a"},
                    {"lang": "en-us", "value": "b"},
                    {"lang": "EN", "value": "c"},
                ]
            },
            ("descriptions[2].lang", "DUPLICATE_LANGUAGE"),
        ),
        (
            {"descriptions": [{"lang": "tlh-x-", "value": "a"}]},
            ("descriptions[0].lang", "INVALID_LANGUAGE_TAG"),
        ),
    ):
        errors = (await admin(CREATE, {"input": {**values, **extra}}))["createDataset"]["errors"]
        assert expected in {(e["field"], e["code"]) for e in errors}, errors
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Dataset)) == 0
        owned = select(func.count()).where(LanguageText.dataset_id.is_not(None))
        assert await session.scalar(owned) == 0


MATERIAL = f"""mutation($input: AddLearningMaterialInput!) {{ addLearningMaterial(input: $input) {{
    learningMaterial {{ id title titles {TEXT} language }} errors {{ field code }} }} }}"""
MATERIAL_UPDATE = f"""mutation($input: UpdateLearningMaterialInput!) {{
  updateLearningMaterial(input: $input) {{ learningMaterial {{ title titles {TEXT} }}
    errors {{ field code }} }} }}"""
MATERIALS = f"""{{ learningMaterials(first: 20) {{ nodes {{ title titles {TEXT}
    vi: title(lang: "vi") language }} }} }}"""


async def test_learning_material_titles(
    admin, factory, sessions, make_token, compiled_client, strawberry_client
):
    project, *_ = await setup_project(factory)
    base = {
        "projectId": gid("Project", project.id),
        "kind": "SEMINAR_MATERIAL",
        "licence": "CC-BY-4.0",
    }
    single = (
        await admin(MATERIAL, {"input": {**base, "title": "Sổ tay quan trắc", "language": "vie"}})
    )["addLearningMaterial"]
    assert single["errors"] == []
    assert single["learningMaterial"]["titles"] == [  # in the material's language
        {"lang": "vi", "value": "Sổ tay quan trắc", "original": True, "translated": False}
    ]
    tagged = (
        await admin(
            MATERIAL,
            {
                "input": {
                    **base,
                    "language": "en",
                    "titles": [
                        {"lang": "en", "value": "Monitoring handbook"},
                        {"lang": "vi", "value": "Sổ tay giám sát", "translated": True},
                    ],
                }
            },
        )
    )["addLearningMaterial"]["learningMaterial"]
    assert tagged["title"] == "Monitoring handbook"
    async with sessions() as session:  # a material written around the service
        session.add(
            LearningMaterial(
                project_id=project.id,
                title="คู่มือ",
                kind=MaterialKind.SEMINAR_MATERIAL,
                language="th",
                licence="CC-BY-4.0",
            )
        )
        await session.commit()
    token = await make_token(AccountRole.ADMIN)
    for language in (None, "vi", "th"):
        body = await both(compiled_client, strawberry_client, token, MATERIALS, {}, language)
        titles = {n["title"] for n in body["data"]["learningMaterials"]["nodes"]}
        if language == "vi":
            assert titles == {"Sổ tay quan trắc", "Sổ tay giám sát", "คู่มือ"}
        if language == "th":
            assert "คู่มือ" in titles and "Monitoring handbook" in titles
    updated = (
        await admin(MATERIAL_UPDATE, {"input": {"id": tagged["id"], "title": "Field handbook"}})
    )["updateLearningMaterial"]["learningMaterial"]
    assert [t["value"] for t in updated["titles"]] == ["Field handbook", "Sổ tay giám sát"]
    refused = (
        await admin(
            MATERIAL,
            {
                "input": {
                    **base,
                    "language": "en",
                    "titles": [{"lang": "en", "value": "a", "translated": True}],
                }
            },
        )
    )["addLearningMaterial"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("titles", "NO_ORIGINAL")]
