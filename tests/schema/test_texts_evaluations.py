"""Monitoring reports' and evaluations' summaries, follow-up cooperations' descriptions and
data use agreements' titles in each language (issue 20): written through their mutations
(a list, or one value as before, which writes the original), read alike by the compiled
path and strawberry with the fallback chain, bad lists refused with their codes writing
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from server.models import DataUseAgreement, Evaluation, FollowUpCooperation, MonitoringReport
from server.models.enums import AccountRole, ProjectPhase
from tests.factories import gid
from tests.schema.test_datasets import dataset_input, setup_project
from tests.schema.test_texts import both
from tests.schema.test_texts_records import ERRORS, TEXT, codes, count, pairs, read_alike

REPORT = f"""mutation($input: CreateMonitoringReportInput!) {{
  createMonitoringReport(input: $input) {{ monitoringReport {{ id summary summaries {TEXT} }}
    {ERRORS} }} }}"""
EVALUATION = f"""mutation($input: CreateEvaluationInput!) {{ createEvaluation(input: $input) {{
    evaluation {{ id summary summaries {TEXT} }} {ERRORS} }} }}"""
FOLLOW_UP = f"""mutation($input: CreateFollowUpCooperationInput!) {{
  createFollowUpCooperation(input: $input) {{ followUpCooperation {{ id description
    descriptions {TEXT} }} {ERRORS} }} }}"""
READ = """query($id: ID!) {{ node(id: $id) {{ ... on {type} {{ {field} {plural} {text}
    th: {field}(lang: "th") }} }} }}"""
READ_REPORT = READ.format(type="MonitoringReport", field="summary", plural="summaries", text=TEXT)
READ_EVALUATION = READ.format(type="Evaluation", field="summary", plural="summaries", text=TEXT)
READ_FOLLOW_UP = READ.format(
    type="FollowUpCooperation", field="description", plural="descriptions", text=TEXT
)
PROJECT = """query($id: ID!) { node(id: $id) { ... on Project { monitoringReports {
    summary(lang: "ja") } evaluations { summary } followUps { description(lang: "en") } } } }"""
RENAME = {"summary": "description", "summaries": "descriptions"}
ALL_SIX = ("relevance", "coherence", "effectiveness", "impact", "efficiency", "sustainability")
THAI_FIRST = [
    {"lang": "th", "value": "ก้าวหน้าตามแผน"},
    {"lang": "en", "value": "On track", "translated": True},
]


async def test_report_evaluation_and_follow_up_texts(
    admin, factory, make_token, sessions, compiled_client, strawberry_client
):
    project = await factory.project(
        phase=ProjectPhase.COMPLETED, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
    )
    pid = gid("Project", project.id)
    report = (
        await admin(
            REPORT,
            {
                "input": {
                    "projectId": pid,
                    "periodStart": "2019-04-01",
                    "periodEnd": "2020-03-31",
                    "submittedOn": "2020-04-20",
                    "summaries": THAI_FIRST,
                }
            },
        )
    )["createMonitoringReport"]
    assert report["errors"] == []
    evaluation = (
        await admin(
            EVALUATION,
            {
                "input": {
                    "projectId": pid,
                    "kind": "TERMINAL",
                    "evaluatedOn": "2021-06-01",
                    "summary": "Sound",
                }
            },
        )
    )["createEvaluation"]
    assert evaluation["errors"] == []
    assert pairs(evaluation["evaluation"]["summaries"]) == [("und", "Sound", True, False)]
    follow_up = (
        await admin(
            FOLLOW_UP,
            {"input": {"projectId": pid, "startDate": "2021-06-01", "descriptions": THAI_FIRST}},
        )
    )["createFollowUpCooperation"]
    assert follow_up["errors"] == []
    token = await make_token(AccountRole.ADMIN)
    for record, field, plural, query in (
        (report["monitoringReport"], "summary", "summaries", READ_REPORT),
        (follow_up["followUpCooperation"], "description", "descriptions", READ_FOLLOW_UP),
    ):
        assert pairs(record[plural]) == [
            ("th", "ก้าวหน้าตามแผน", True, False),
            ("en", "On track", False, True),
        ]
        read = await read_alike(compiled_client, strawberry_client, token, query, record["id"])
        assert [r[field] for r in read.values()] == ["On track", "ก้าวหน้าตามแผน", "On track"]
        assert {r["th"] for r in read.values()} == {"ก้าวหน้าตามแผน"}
    read = await read_alike(
        compiled_client, strawberry_client, token, READ_EVALUATION, evaluation["evaluation"]["id"]
    )
    assert {(r["summary"], r["th"]) for r in read.values()} == {("Sound", "Sound")}
    answer = await both(compiled_client, strawberry_client, token, PROJECT, {"id": pid}, "th")
    assert answer["data"]["node"] == {
        "monitoringReports": [{"summary": "ก้าวหน้าตามแผน"}],  # no Japanese: Accept-Language
        "evaluations": [{"summary": "Sound"}],
        "followUps": [{"description": "On track"}],
    }
    async with sessions() as session:  # the columns keep the originals
        assert await session.scalar(select(MonitoringReport.summary)) == "ก้าวหน้าตามแผน"
        assert await session.scalar(select(FollowUpCooperation.description)) == "ก้าวหน้าตามแผน"
    before = [
        await count(sessions, MonitoringReport, "monitoring_report_id"),
        await count(sessions, Evaluation, "evaluation_id"),
        await count(sessions, FollowUpCooperation, "follow_up_id"),
    ]
    duplicate = [{"lang": "th", "value": "a"}, {"lang": "TH", "value": "b"}]
    translations = [{"lang": "th", "value": "a", "translated": True}]
    for sent, expected in (
        ({"summaries": duplicate}, ("summaries[1].lang", "DUPLICATE_LANGUAGE")),
        ({"summaries": translations}, ("summaries", "NO_ORIGINAL")),
        ({"summary": "x", "summaries": THAI_FIRST}, ("summary", "CONFLICT")),
    ):
        refused = (
            await admin(
                REPORT,
                {
                    "input": {
                        "projectId": pid,
                        "periodStart": "2020-04-01",
                        "periodEnd": "2021-03-31",
                        "submittedOn": "2021-04-20",
                        **sent,
                    }
                },
            )
        )["createMonitoringReport"]
        assert expected in codes(refused), refused
        refused = (
            await admin(
                EVALUATION,
                {
                    "input": {
                        "projectId": pid,
                        "kind": "EX_POST",
                        "evaluatedOn": "2024-01-10",
                        "ratings": dict.fromkeys(ALL_SIX, "B"),
                        **sent,
                    }
                },
            )
        )["createEvaluation"]
        assert expected in codes(refused), refused
        described = {RENAME[key]: value for key, value in sent.items()}
        refused = (
            await admin(
                FOLLOW_UP, {"input": {"projectId": pid, "startDate": "2022-01-01", **described}}
            )
        )["createFollowUpCooperation"]
        field = next(
            RENAME[k] + expected[0][len(k) :]
            for k in ("summaries", "summary")
            if expected[0].startswith(k)
        )
        assert (field, expected[1]) in codes(refused), refused
    refused = (await admin(FOLLOW_UP, {"input": {"projectId": pid, "startDate": "2022-01-01"}}))[
        "createFollowUpCooperation"
    ]
    assert codes(refused) == {("description", "REQUIRED")}
    assert [
        await count(sessions, MonitoringReport, "monitoring_report_id"),
        await count(sessions, Evaluation, "evaluation_id"),
        await count(sessions, FollowUpCooperation, "follow_up_id"),
    ] == before


# ---- data use agreements --------------------------------------------------------------------

DATASET = f"""mutation($input: CreateDatasetInput!) {{ createDataset(input: $input) {{
    dataset {{ id }} {ERRORS} }} }}"""
AGREEMENT = f"""mutation($input: PublishDataUseAgreementInput!) {{
  publishDataUseAgreement(input: $input) {{ agreement {{ id version title titles {TEXT} }}
    {ERRORS} }} }}"""
READ_AGREEMENT = f"""query($id: ID!) {{ node(id: $id) {{ ... on Dataset {{
    dataUseAgreement {{ version title titles {TEXT} th: title(lang: "th") }}
    dataUseAgreements {{ title(lang: "en") }} }} }} }}"""


async def alike(
    compiled_client: Any, strawberry_client: Any, token: str, did: str, language: str | None
) -> Any:
    """READ_AGREEMENT's answer, the same from both endpoints (the compiled one hands data use
    agreements to strawberry, as before)."""
    headers = {"Authorization": f"Bearer {token}"}
    if language is not None:
        headers["Accept-Language"] = language
    body = {"query": READ_AGREEMENT, "variables": {"id": did}}
    answers = [
        (await http.post("/graphql", json=body, headers=headers)).json()
        for http in (compiled_client, strawberry_client)
    ]
    assert answers[0] == answers[1]
    return answers[0]["data"]


async def test_data_use_agreement_titles(
    admin, factory, make_token, sessions, compiled_client, strawberry_client
):
    project, jp, _, _ = await setup_project(factory)
    dataset = (await admin(DATASET, {"input": dataset_input(project, jp)}))["createDataset"]
    assert dataset["errors"] == []
    did = dataset["dataset"]["id"]
    first = (
        await admin(AGREEMENT, {"input": {"datasetId": did, "title": "Terms", "body": "Cite us."}})
    )["publishDataUseAgreement"]
    assert first["errors"] == []
    assert pairs(first["agreement"]["titles"]) == [("und", "Terms", True, False)]
    titles = [
        {"lang": "th", "value": "ข้อตกลงการใช้ข้อมูล"},
        {"lang": "en", "value": "Data use agreement", "translated": True},
    ]
    second = (
        await admin(AGREEMENT, {"input": {"datasetId": did, "titles": titles, "body": "v2"}})
    )["publishDataUseAgreement"]
    assert second["errors"] == []
    assert second["agreement"]["title"] == "Data use agreement"
    token = await make_token(AccountRole.ADMIN)
    for language, title in ((None, "Data use agreement"), ("th", "ข้อตกลงการใช้ข้อมูล")):
        node = (await alike(compiled_client, strawberry_client, token, did, language))["node"]
        assert node["dataUseAgreement"]["title"] == title
        assert node["dataUseAgreement"]["th"] == "ข้อตกลงการใช้ข้อมูล"
        assert [a["title"] for a in node["dataUseAgreements"]] == ["Data use agreement", "Terms"]
    async with sessions() as session:
        assert (
            await session.scalar(
                select(DataUseAgreement.title).where(DataUseAgreement.version == 2)
            )
            == "ข้อตกลงการใช้ข้อมูล"
        )
    before = await count(sessions, DataUseAgreement, "agreement_id")
    for sent, expected in (
        ({}, ("title", "REQUIRED")),
        ({"titles": [{"lang": "th", "value": "a\u0007"}]}, ("titles[0].value", "INVALID_TEXT")),
        ({"titles": [{"lang": "zz-zz-zz-zz", "value": "a"}]}, ("titles[0].lang", None)),
    ):
        refused = (await admin(AGREEMENT, {"input": {"datasetId": did, "body": "v3", **sent}}))[
            "publishDataUseAgreement"
        ]
        found = codes(refused)
        if expected[1] is None:  # malformed or unknown: refused at the tag
            assert {f for f, _ in found} == {expected[0]}, refused
        else:
            assert expected in found, refused
    assert await count(sessions, DataUseAgreement, "agreement_id") == before
