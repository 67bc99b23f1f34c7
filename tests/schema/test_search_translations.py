"""Search finds a row by any of its language-tagged values (issue 20): a Japanese title added
as a translation of an English-only project or dataset, a dataset's keyword in Thai, an
institution's name in a third language; the hit is highlighted in the translation; taking
the translation away takes the hit away; on SQLite and PostgreSQL, access still in SQL."""

from __future__ import annotations

from typing import Any

from tests.factories import gid
from tests.schema.test_datasets import dataset_input, setup_project

SEARCH = """query($q: String!) { search(query: $q) { totalCount
  edges { type highlight node { ... on Project { id } ... on Dataset { id }
    ... on Institution { id } } } } }"""
PROJECT = """mutation($input: UpdateProjectInput!) { updateProject(input: $input) {
  errors { field code } } }"""
CREATE = """mutation($input: CreateDatasetInput!) { createDataset(input: $input) {
  dataset { id } errors { field code } } }"""
DATASET = """mutation($input: UpdateDatasetInput!) { updateDataset(input: $input) {
  errors { field code } } }"""
INSTITUTION = """mutation($input: UpdateInstitutionInput!) { updateInstitution(input: $input) {
  errors { field code } } }"""


async def hits(client: Any, query: str) -> dict[str, str]:
    """The ids found, with their highlights."""
    found = (await client(SEARCH, {"q": query}))["search"]
    assert found["totalCount"] == len(found["edges"])
    return {e["node"]["id"]: e["highlight"] for e in found["edges"]}


async def write(client: Any, mutation: str, name: str, values: dict[str, Any]) -> None:
    assert (await client(mutation, {"input": values}))[name]["errors"] == []


async def test_translations_are_found_and_forgotten(admin, gql, factory):
    project, jp, _, _ = await setup_project(factory)
    project_id = gid("Project", project.id)
    dataset = (
        await admin(
            CREATE,
            {"input": dataset_input(project, jp, title="River gauges", keywords=["rainfall"])},
        )
    )["createDataset"]["dataset"]
    assert await hits(admin, "大学") == {}
    await write(
        admin,
        PROJECT,
        "updateProject",
        {
            "id": project_id,
            "titles": [
                {"lang": "en", "value": project.title},
                {"lang": "ja", "value": "京都大学の洪水予報", "translated": True},
            ],
        },
    )
    await write(
        admin,
        DATASET,
        "updateDataset",
        {
            "id": dataset["id"],
            "titles": [
                {"lang": "en", "value": "River gauges"},
                {"lang": "ja", "value": "東京大学の水位計", "translated": True},
            ],
            "keywordTexts": [
                {"lang": "en", "value": "rainfall"},
                {"lang": "th", "value": "ปริมาณน้ำฝน", "translated": True},
            ],
        },
    )
    found = await hits(admin, "大学")
    assert set(found) == {project_id, dataset["id"]}
    assert "<mark>大学</mark>" in found[project_id]
    assert "東京<mark>大学</mark>の水位計" in found[dataset["id"]]
    assert set(await hits(admin, "水位")) == {dataset["id"]}  # a bigram of the translation
    assert set(await hits(admin, "ปริมาณน้ำฝน")) == {dataset["id"]}  # a keyword in Thai
    # the anonymous: the project (public once in implementation), not the project-only dataset
    assert set(await hits(gql, "大学")) == {project_id}
    await write(
        admin,
        PROJECT,
        "updateProject",
        {"id": project_id, "titles": [{"lang": "en", "value": project.title}]},
    )
    await write(admin, DATASET, "updateDataset", {"id": dataset["id"], "keywordTexts": []})
    assert set(await hits(admin, "大学")) == {dataset["id"]}
    assert await hits(admin, "ปริมาณน้ำฝน") == {}
    assert await hits(admin, "rainfall") == {}  # keywords cleared: column and rows


async def test_a_name_in_another_language_is_found(admin, factory):
    institution = await factory.institution("TH", name_en="Kasetsart University")
    institution_id = gid("Institution", institution.id)
    await write(
        admin,
        INSTITUTION,
        "updateInstitution",
        {
            "id": institution_id,
            "names": [
                {"lang": "th", "value": "มหาวิทยาลัยเกษตรศาสตร์"},
                {"lang": "en", "value": "Kasetsart University", "translated": True},
                {"lang": "ja", "value": "カセサート大学", "translated": True},
            ],
        },
    )
    found = await hits(admin, "カセサート")
    assert set(found) == {institution_id}
    assert "<mark>カセサート</mark>" in found[institution_id]
