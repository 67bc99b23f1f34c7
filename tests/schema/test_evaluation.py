"""Monitoring and evaluation: JCC meetings, monitoring reports, DAC-rated evaluations,
lessons learned, follow-up cooperation; who writes them, who sees them, no N+1."""

from __future__ import annotations

import datetime as dt

from server.models.cooperation import (
    Evaluation,
    FollowUpCooperation,
    JccMeeting,
    LessonLearned,
    MonitoringReport,
)
from server.models.enums import AccountRole, EvaluationKind, MemberRole, ProjectPhase
from tests.factories import gid

ERRORS = "errors { field code message }"
CREATE_JCC = f"""mutation($input: CreateJccMeetingInput!) {{
  createJccMeeting(input: $input) {{
    jccMeeting {{ id heldOn minutes decisions project {{ title }} }} {ERRORS} }} }}"""
CREATE_REPORT = f"""mutation($input: CreateMonitoringReportInput!) {{
  createMonitoringReport(input: $input) {{
    monitoringReport {{ id periodStart periodEnd submittedOn summary documentRef }} {ERRORS} }} }}"""
RATINGS = "ratings { relevance coherence effectiveness impact efficiency sustainability }"
CREATE_EVALUATION = f"""mutation($input: CreateEvaluationInput!) {{
  createEvaluation(input: $input) {{
    evaluation {{ id kind evaluatedOn summary documentRef {RATINGS} project {{ title }} }}
    {ERRORS} }} }}"""
ADD_LESSON = f"""mutation($input: AddLessonLearnedInput!) {{
  addLessonLearned(input: $input) {{
    lessonLearned {{ id text evaluation {{ kind }} project {{ title }} }} {ERRORS} }} }}"""
CREATE_FOLLOW_UP = f"""mutation($input: CreateFollowUpCooperationInput!) {{
  createFollowUpCooperation(input: $input) {{
    followUpCooperation {{ id startDate endDate description }} {ERRORS} }} }}"""
ALL_SIX = {
    "relevance": "A",
    "coherence": "B",
    "effectiveness": "A",
    "impact": "B",
    "efficiency": "C",
    "sustainability": "B",
}
TODAY = dt.datetime.now(dt.UTC).date()


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


def pid(project) -> str:
    return gid("Project", project.id)


async def jcc(client, project, held_on: str, **extra) -> dict:
    variables = {"input": {"projectId": pid(project), "heldOn": held_on, **extra}}
    return (await client(CREATE_JCC, variables))["createJccMeeting"]


async def report(client, project, start: str, end: str, submitted: str, **extra) -> dict:
    variables = {
        "input": {
            "projectId": pid(project),
            "periodStart": start,
            "periodEnd": end,
            "submittedOn": submitted,
            **extra,
        }
    }
    return (await client(CREATE_REPORT, variables))["createMonitoringReport"]


async def evaluate(client, project, kind: str, on: str, **extra) -> dict:
    variables = {"input": {"projectId": pid(project), "kind": kind, "evaluatedOn": on, **extra}}
    return (await client(CREATE_EVALUATION, variables))["createEvaluation"]


async def lesson(client, project, text: str, evaluation_id: str | None = None) -> dict:
    variables = {"input": {"projectId": pid(project), "text": text, "evaluationId": evaluation_id}}
    return (await client(ADD_LESSON, variables))["addLessonLearned"]


async def follow_up(client, project, start: str, end: str | None, text: str = "Alumni") -> dict:
    variables = {
        "input": {
            "projectId": pid(project),
            "startDate": start,
            "endDate": end,
            "description": text,
        }
    }
    return (await client(CREATE_FOLLOW_UP, variables))["createFollowUpCooperation"]


async def pi_client(gql, make_token, factory, project):
    pi = await factory.researcher()
    await factory.member(project.id, pi.id, MemberRole.PARTNER_PI)
    return gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=pi.id))


# ---- JCC meetings and monitoring reports -------------------------------------------------


async def test_jcc_meetings_by_staff_and_the_projects_pis(gql, manager, make_token, factory):
    project = await factory.project(title="Landslide risk in the Mekong basin")
    pi = await pi_client(gql, make_token, factory, project)
    done = await jcc(manager, project, "2024-03-15", minutes="  Minutes.  ", decisions="PDM v2")
    assert done["errors"] == []
    assert done["jccMeeting"]["minutes"] == "Minutes."
    assert done["jccMeeting"]["project"] == {"title": "Landslide risk in the Mekong basin"}
    assert (await jcc(pi, project, "2023-02-20"))["errors"] == []
    other = gql.as_(
        await make_token(AccountRole.RESEARCHER, researcher_id=(await factory.researcher()).id)
    )
    assert codes(await jcc(other, project, "2023-02-21")) == {(None, "FORBIDDEN")}
    assert codes(await jcc(gql, project, "2023-02-21")) == {(None, "UNAUTHENTICATED")}
    data = await gql(
        f'{{ node(id: "{pid(project)}") {{ ... on Project {{ jccMeetings {{ heldOn }} }} }} }}'
    )
    assert data["node"]["jccMeetings"] == [{"heldOn": "2023-02-20"}, {"heldOn": "2024-03-15"}]


async def test_jcc_meeting_errors(manager, factory):
    project = await factory.project()  # 2022-04-01 .. 2027-03-31, implementation
    assert codes(await jcc(manager, project, "2022-03-31")) == {
        ("heldOn", "OUTSIDE_PROJECT_PERIOD")
    }
    assert codes(await jcc(manager, project, "2027-04-01")) == {
        ("heldOn", "OUTSIDE_PROJECT_PERIOD")
    }
    assert codes(await jcc(manager, project, "2023-01-01", minutes="m" * 50_001)) == {
        ("minutes", "TOO_LONG")
    }
    assert codes(await jcc(manager, project, "2023-01-01", decisions="d" * 20_001)) == {
        ("decisions", "TOO_LONG")
    }
    for phase in (ProjectPhase.APPROVED, ProjectPhase.REQUESTED, ProjectPhase.WITHDRAWN):
        early = await factory.project(phase=phase)
        assert codes(await jcc(manager, early, "2023-01-01")) == {
            ("projectId", "PROJECT_NOT_STARTED")
        }, phase
    planning = await factory.project(phase=ProjectPhase.PLANNING)
    assert (await jcc(manager, planning, "2022-04-01"))["errors"] == []
    missing = {"input": {"projectId": gid("Project", 999_999), "heldOn": "2023-01-01"}}
    assert codes((await manager(CREATE_JCC, missing))["createJccMeeting"]) == {
        ("projectId", "NOT_FOUND")
    }
    wrong = {"input": {"projectId": gid("Theme", 1), "heldOn": "2023-01-01"}}
    assert codes((await manager(CREATE_JCC, wrong))["createJccMeeting"]) == {
        ("projectId", "INVALID_ID")
    }


async def test_monitoring_reports(gql, manager, make_token, factory):
    project = await factory.project()
    pi = await pi_client(gql, make_token, factory, project)
    done = await report(
        pi, project, "2022-04-01", "2023-03-31", "2023-04-20", summary="Year 1", documentRef="MR-1"
    )
    assert done["errors"] == []
    assert done["monitoringReport"]["documentRef"] == "MR-1"
    assert codes(await report(manager, project, "2023-04-01", "2023-03-31", "2023-05-01")) == {
        ("periodEnd", "INVALID_PERIOD")
    }
    assert codes(await report(manager, project, "2022-01-01", "2022-06-30", "2022-07-01")) == {
        ("periodStart", "OUTSIDE_PROJECT_PERIOD")
    }
    assert codes(await report(manager, project, "2026-04-01", "2027-06-30", "2026-07-01")) == {
        ("periodEnd", "OUTSIDE_PROJECT_PERIOD"),
        ("submittedOn", "SUBMITTED_BEFORE_PERIOD_END"),
    }
    future = (TODAY + dt.timedelta(days=10)).isoformat()
    assert codes(await report(manager, project, "2023-04-01", "2023-09-30", future)) == {
        ("submittedOn", "FUTURE_DATE")
    }
    planning = await factory.project(phase=ProjectPhase.PLANNING)
    assert codes(await report(manager, planning, "2022-04-01", "2022-09-30", "2022-10-01")) == {
        ("projectId", "PROJECT_NOT_STARTED")
    }
    assert codes(await report(gql, project, "2023-04-01", "2023-09-30", "2023-10-01")) == {
        (None, "UNAUTHENTICATED")
    }
    data = await gql(
        f'{{ node(id: "{pid(project)}") {{ ... on Project {{ monitoringReports {{ summary }} }} }} }}'
    )
    assert data["node"]["monitoringReports"] == [{"summary": "Year 1"}]


# ---- evaluations --------------------------------------------------------------------------


async def test_ex_ante_and_mid_term_review(manager, factory):
    approved = await factory.project(phase=ProjectPhase.APPROVED)
    assert codes(await evaluate(manager, approved, "EX_ANTE", "2022-01-10")) == {
        ("projectId", "PROJECT_NOT_STARTED")
    }
    planning = await factory.project(phase=ProjectPhase.PLANNING)
    done = await evaluate(
        manager, planning, "EX_ANTE", "2022-01-10", ratings={"relevance": "A"}, summary="Sound"
    )
    assert done["errors"] == []
    assert done["evaluation"]["kind"] == "EX_ANTE"
    assert done["evaluation"]["ratings"] == {**dict.fromkeys(ALL_SIX), "relevance": "A"}
    assert codes(await evaluate(manager, planning, "EX_ANTE", "2022-02-10")) == {
        ("kind", "DUPLICATE_EVALUATION")
    }
    assert codes(await evaluate(manager, planning, "MID_TERM_REVIEW", "2023-10-01")) == {
        ("projectId", "PROJECT_NOT_STARTED")
    }
    project = await factory.project()
    assert codes(await evaluate(manager, project, "MID_TERM_REVIEW", "2022-03-01")) == {
        ("evaluatedOn", "OUTSIDE_PROJECT_PERIOD")
    }
    assert (await evaluate(manager, project, "MID_TERM_REVIEW", "2024-10-01"))["errors"] == []
    assert codes(await evaluate(manager, project, "MID_TERM_REVIEW", "2024-11-01")) == {
        ("kind", "DUPLICATE_EVALUATION")
    }
    future = (TODAY + dt.timedelta(days=2)).isoformat()
    assert codes(await evaluate(manager, project, "EX_ANTE", future)) == {
        ("evaluatedOn", "FUTURE_DATE")
    }


async def test_terminal_evaluation_needs_a_completed_project_or_its_last_year(manager, factory):
    # Implementation ending 2026-06-30: the terminal evaluation window opens 2025-06-30.
    project = await factory.project(start=dt.date(2021, 7, 1), end=dt.date(2026, 6, 30))
    assert codes(await evaluate(manager, project, "TERMINAL", "2025-06-29")) == {
        ("projectId", "PROJECT_NOT_COMPLETED")
    }
    assert (await evaluate(manager, project, "TERMINAL", "2025-06-30"))["errors"] == []
    open_ended = await factory.project(end=None)
    assert codes(await evaluate(manager, open_ended, "TERMINAL", "2025-06-30")) == {
        ("projectId", "PROJECT_NOT_COMPLETED")
    }
    planning = await factory.project(phase=ProjectPhase.PLANNING, end=dt.date(2022, 12, 31))
    assert codes(await evaluate(manager, planning, "TERMINAL", "2022-06-30")) == {
        ("projectId", "PROJECT_NOT_COMPLETED")
    }
    completed = await factory.project(
        phase=ProjectPhase.COMPLETED, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
    )
    assert codes(await evaluate(manager, completed, "TERMINAL", "2016-03-01")) == {
        ("evaluatedOn", "OUTSIDE_PROJECT_PERIOD")
    }
    # after the end date is fine: the review of a completed project
    assert (await evaluate(manager, completed, "TERMINAL", "2021-05-15"))["errors"] == []


async def test_ex_post_evaluation(manager, make_token, gql, factory):
    implementation = await factory.project()
    assert codes(
        await evaluate(manager, implementation, "EX_POST", "2025-01-01", ratings=ALL_SIX)
    ) == {("projectId", "PROJECT_NOT_COMPLETED")}
    project = await factory.project(
        phase=ProjectPhase.COMPLETED, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
    )
    assert codes(await evaluate(manager, project, "EX_POST", "2023-03-30", ratings=ALL_SIX)) == {
        ("evaluatedOn", "EX_POST_TOO_EARLY")
    }
    partial = {"relevance": "A", "coherence": "A", "effectiveness": "B", "efficiency": "B"}
    payload = await evaluate(manager, project, "EX_POST", "2023-03-31", ratings=partial)
    assert codes(payload) == {("ratings", "MISSING_RATING")}
    assert "impact, sustainability" in payload["errors"][0]["message"]
    assert codes(await evaluate(manager, project, "EX_POST", "2023-03-31")) == {
        ("ratings", "MISSING_RATING")
    }
    done = await evaluate(
        manager, project, "EX_POST", "2023-03-31", ratings=ALL_SIX, documentRef="EP-2023-4"
    )
    assert done["errors"] == []
    assert done["evaluation"]["ratings"] == ALL_SIX
    assert codes(await evaluate(manager, project, "EX_POST", "2024-01-01", ratings=ALL_SIX)) == {
        ("kind", "DUPLICATE_EVALUATION")
    }
    # evaluations are JICA's: a PI of the project may not record one
    pi = await pi_client(gql, make_token, factory, project)
    assert codes(await evaluate(pi, project, "TERMINAL", "2021-05-01")) == {(None, "FORBIDDEN")}
    assert codes(await evaluate(gql, project, "TERMINAL", "2021-05-01")) == {
        (None, "UNAUTHENTICATED")
    }
    data = await gql(
        f'{{ node(id: "{pid(project)}") {{ ... on Project {{ evaluations {{ kind {RATINGS} }} }} }} }}'
    )
    assert data["node"]["evaluations"] == [{"kind": "EX_POST", "ratings": ALL_SIX}]


# ---- lessons learned and follow-up ----------------------------------------------------------


async def test_lessons_learned(gql, manager, make_token, factory):
    project = await factory.project(title="Dengue vector control")
    other = await factory.project()
    mid = (await evaluate(manager, project, "MID_TERM_REVIEW", "2024-10-01"))["evaluation"]
    elsewhere = (await evaluate(manager, other, "MID_TERM_REVIEW", "2024-10-01"))["evaluation"]
    done = await lesson(manager, project, "Involve district health offices early.", mid["id"])
    assert done["errors"] == []
    assert done["lessonLearned"]["evaluation"] == {"kind": "MID_TERM_REVIEW"}
    assert done["lessonLearned"]["project"] == {"title": "Dengue vector control"}
    assert (await lesson(manager, project, "Budget 100% of spare parts."))["errors"] == []
    assert codes(await lesson(manager, project, "x", elsewhere["id"])) == {
        ("evaluationId", "MISMATCHED_EVALUATION")
    }
    assert codes(await lesson(manager, project, "x", gid("Evaluation", 999_999))) == {
        ("evaluationId", "NOT_FOUND")
    }
    assert codes(await lesson(manager, project, "  ")) == {("text", "REQUIRED")}
    assert codes(await lesson(manager, project, "t" * 10_001)) == {("text", "TOO_LONG")}
    pi = await pi_client(gql, make_token, factory, project)
    assert codes(await lesson(pi, project, "A PI's lesson")) == {(None, "FORBIDDEN")}
    data = await gql(
        f'{{ node(id: "{mid["id"]}") {{ ... on Evaluation {{ lessonsLearned {{ text }} }} }} }}'
    )
    assert data["node"]["lessonsLearned"] == [{"text": "Involve district health offices early."}]


LESSONS = """query($f: LessonLearnedFilter) {
  lessonsLearned(filter: $f, first: 100) { totalCount nodes { text } } }"""


async def test_lessons_learned_search(gql, manager, factory):
    thai = await factory.project(countries=("TH",), theme_ids=(2,))
    kenyan = await factory.project(countries=("KE",), theme_ids=(6,))
    await lesson(manager, thai, "Community RADAR stations need local maintenance.")
    await lesson(manager, thai, "Share 100% of the data with the partner ministry.")
    evaluation = (await evaluate(manager, kenyan, "MID_TERM_REVIEW", "2024-10-01"))["evaluation"]
    await lesson(
        manager, kenyan, "Radar of disease outbreaks: train county staff.", evaluation["id"]
    )

    async def texts(flt) -> list[str]:
        data = (await gql(LESSONS, {"f": flt}))["lessonsLearned"]
        assert data["totalCount"] == len(data["nodes"])
        return [n["text"][:9] for n in data["nodes"]]

    assert await texts({"text": "radar"}) == ["Community", "Radar of "]
    assert await texts({"text": "100%"}) == ["Share 100"]
    assert await texts({"text": "0%"}) == ["Share 100"]  # % is not a wildcard
    assert await texts({"text": "_"}) == []
    assert await texts({"country": "ke"}) == ["Radar of "]
    assert await texts({"themeId": gid("Theme", 1)}) == ["Community", "Share 100"]  # subtree
    assert await texts({"projectId": pid(thai), "text": "RADAR"}) == ["Community"]
    assert await texts({"evaluationId": evaluation["id"]}) == ["Radar of "]
    errors = await gql.errors(LESSONS, {"f": {"projectId": gid("Theme", 1)}})
    assert errors[0]["extensions"]["code"] == "INVALID_ID"


async def test_follow_up_cooperation(gql, manager, make_token, factory):
    project = await factory.project(
        phase=ProjectPhase.COMPLETED, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
    )
    done = await follow_up(manager, project, "2021-06-01", "2023-03-31", "Follow-up training")
    assert done["errors"] == []
    assert done["followUpCooperation"]["endDate"] == "2023-03-31"
    assert (await follow_up(manager, project, "2021-03-31", None))["errors"] == []
    assert codes(await follow_up(manager, project, "2021-03-30", None)) == {
        ("startDate", "BEFORE_COMPLETION")
    }
    assert codes(await follow_up(manager, project, "2022-01-01", "2021-12-31")) == {
        ("endDate", "INVALID_PERIOD")
    }
    assert codes(await follow_up(manager, project, "2022-01-01", None, " ")) == {
        ("description", "REQUIRED")
    }
    running = await factory.project()
    assert codes(await follow_up(manager, running, "2027-06-01", None)) == {
        ("projectId", "PROJECT_NOT_COMPLETED")
    }
    pi = await pi_client(gql, make_token, factory, project)
    assert codes(await follow_up(pi, project, "2022-01-01", None)) == {(None, "FORBIDDEN")}
    later = await factory.project(
        phase=ProjectPhase.FOLLOW_UP, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
    )
    assert (await follow_up(manager, later, "2022-01-01", None))["errors"] == []
    data = await gql(
        f'{{ node(id: "{pid(project)}") {{ ... on Project {{ followUps {{ startDate }} }} }} }}'
    )
    assert data["node"]["followUps"] == [{"startDate": "2021-03-31"}, {"startDate": "2021-06-01"}]


# ---- root connections, visibility, statements ------------------------------------------------

EVALUATIONS = """query($f: EvaluationFilter) {
  evaluations(filter: $f, first: 100) { totalCount nodes { kind evaluatedOn project { title } } } }"""
JCC_MEETINGS = """query($f: JccMeetingFilter) {
  jccMeetings(filter: $f, first: 100) { totalCount nodes { heldOn } } }"""


async def test_root_connection_filters(gql, manager, factory):
    thai = await factory.project(title="TH", countries=("TH",), theme_ids=(2,))
    kenyan = await factory.project(title="KE", countries=("KE",), theme_ids=(6,))
    await evaluate(manager, thai, "MID_TERM_REVIEW", "2024-10-01")
    await evaluate(manager, kenyan, "MID_TERM_REVIEW", "2025-02-01")
    await evaluate(manager, kenyan, "TERMINAL", "2026-06-01")
    await jcc(manager, thai, "2023-02-01")
    await jcc(manager, thai, "2024-02-01")
    await jcc(manager, kenyan, "2024-03-01")

    async def evaluations(flt) -> list[tuple[str, str]]:
        data = (await gql(EVALUATIONS, {"f": flt}))["evaluations"]
        assert data["totalCount"] == len(data["nodes"])
        return [(n["project"]["title"], n["kind"]) for n in data["nodes"]]

    assert await evaluations({"kind": "MID_TERM_REVIEW"}) == [
        ("TH", "MID_TERM_REVIEW"),
        ("KE", "MID_TERM_REVIEW"),
    ]
    assert await evaluations({"projectId": pid(kenyan)}) == [
        ("KE", "MID_TERM_REVIEW"),
        ("KE", "TERMINAL"),
    ]
    assert await evaluations({"country": "TH"}) == [("TH", "MID_TERM_REVIEW")]
    assert await evaluations({"themeId": gid("Theme", 1)}) == [("TH", "MID_TERM_REVIEW")]
    assert await evaluations({"year": 2025}) == [("KE", "MID_TERM_REVIEW")]
    assert await evaluations({"year": 2026, "country": "KE", "kind": "TERMINAL"}) == [
        ("KE", "TERMINAL")
    ]

    async def meetings(flt) -> list[str]:
        data = (await gql(JCC_MEETINGS, {"f": flt}))["jccMeetings"]
        return [n["heldOn"] for n in data["nodes"]]

    assert await meetings({"year": 2024}) == ["2024-02-01", "2024-03-01"]
    assert await meetings({"projectId": pid(thai), "year": 2024}) == ["2024-02-01"]
    assert await meetings({"country": "KE"}) == ["2024-03-01"]
    page = await gql("{ jccMeetings(first: 2) { totalCount pageInfo { hasNextPage } } }")
    assert page["jccMeetings"] == {"totalCount": 3, "pageInfo": {"hasNextPage": True}}


ALL_RECORDS = """{
  jccMeetings { totalCount nodes { id } }
  monitoringReports { totalCount nodes { id } }
  evaluations { totalCount nodes { id } }
  lessonsLearned { totalCount nodes { id } }
  followUpCooperations { totalCount nodes { id } }
}"""
NODES = """query($ids: [ID!]!) { nodes(ids: $ids) {
  __typename id
  ... on LessonLearned { evaluation { kind } }
  ... on Evaluation { lessonsLearned { text } }
} }"""


async def add_records(sessions, project_id: int) -> list[str]:
    """Rows written directly (a proposal cannot have them through the API)."""
    async with sessions() as session:
        evaluation = Evaluation(
            project_id=project_id, kind=EvaluationKind.EX_ANTE, evaluated_on=dt.date(2022, 1, 1)
        )
        session.add(evaluation)
        await session.flush()
        rows = [
            JccMeeting(project_id=project_id, held_on=dt.date(2022, 5, 1)),
            MonitoringReport(
                project_id=project_id,
                period_start=dt.date(2022, 4, 1),
                period_end=dt.date(2022, 9, 30),
                submitted_on=dt.date(2022, 10, 1),
            ),
            evaluation,
            LessonLearned(project_id=project_id, evaluation_id=evaluation.id, text="secret"),
            FollowUpCooperation(
                project_id=project_id, start_date=dt.date(2027, 4, 1), description="later"
            ),
        ]
        session.add_all(rows)
        await session.commit()
        return [gid(type(r).__name__, r.id) for r in rows]


async def test_records_of_a_proposal_are_invisible_to_outsiders(
    gql, admin, make_token, factory, sessions
):
    public = await factory.project()
    proposal = await factory.project(phase=ProjectPhase.REQUESTED)
    public_ids = await add_records(sessions, public.id)
    hidden_ids = await add_records(sessions, proposal.id)

    async def seen(client) -> dict[str, tuple[int, set[str]]]:
        data = await client(ALL_RECORDS)
        return {k: (v["totalCount"], {n["id"] for n in v["nodes"]}) for k, v in data.items()}

    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    for client in (gql, outsider):
        visible = await seen(client)
        assert {i for _, ids in visible.values() for i in ids} == set(public_ids)
        assert all(total == 1 for total, _ in visible.values())
        nodes = (await client(NODES, {"ids": hidden_ids + public_ids}))["nodes"]
        assert nodes[:5] == [None] * 5
        assert [n["id"] for n in nodes[5:]] == public_ids
        assert nodes[5 + 2]["lessonsLearned"] == [{"text": "secret"}]  # the public one's
        assert nodes[5 + 3]["evaluation"] == {"kind": "EX_ANTE"}
    lessons = await gql(LESSONS, {"f": {"text": "secret"}})
    assert lessons["lessonsLearned"]["totalCount"] == 1
    member = await factory.researcher()
    await factory.member(proposal.id, member.id)
    for client in (
        admin,
        gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id)),
    ):
        visible = await seen(client)
        assert {i for _, ids in visible.values() for i in ids} == set(public_ids + hidden_ids)
        assert all(total == 2 for total, _ in visible.values())
        nodes = (await client(NODES, {"ids": hidden_ids}))["nodes"]
        assert [n["id"] for n in nodes] == hidden_ids
    # writing to a project one cannot see reads as not found
    assert codes(await jcc(outsider, proposal, "2023-01-01")) == {("projectId", "NOT_FOUND")}


NESTED = """{
  projects(first: 100) { nodes {
    title
    jccMeetings { heldOn project { title } }
    monitoringReports { submittedOn }
    evaluations { kind ratings { impact } lessonsLearned { text } project { title } }
    lessonsLearned { text evaluation { kind } }
    followUps { startDate project { title } }
  } }
  evaluations(first: 100) { nodes { kind project { title } lessonsLearned { text } } }
  lessonsLearned(first: 100) { nodes { text project { title } evaluation { kind } } }
  jccMeetings(first: 100) { nodes { heldOn project { title } } }
  followUpCooperations(first: 100) { nodes { project { title } } }
}"""


async def add_evaluated_projects(manager, factory, n: int) -> None:
    for _ in range(n):
        project = await factory.project(
            phase=ProjectPhase.COMPLETED, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
        )
        await jcc(manager, project, "2017-01-10")
        await report(manager, project, "2016-04-01", "2017-03-31", "2017-04-15")
        done = await evaluate(manager, project, "EX_POST", "2024-01-10", ratings=ALL_SIX)
        await evaluate(manager, project, "TERMINAL", "2021-01-10")
        await lesson(manager, project, "Lesson", done["evaluation"]["id"])
        await follow_up(manager, project, "2021-06-01", None)


async def test_statement_count_does_not_grow_with_items(admin, manager, factory, statements):
    await add_evaluated_projects(manager, factory, 2)
    with statements.measure() as small:
        await admin(NESTED)
    await add_evaluated_projects(manager, factory, 8)
    with statements.measure() as large:
        data = await admin(NESTED)
    assert len(data["evaluations"]["nodes"]) >= 20
    assert large.count == small.count, (small.count, large.count)
    print(f"statements per request: {small.count}")
    assert small.count < 40
