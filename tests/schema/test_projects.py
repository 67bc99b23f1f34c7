"""Projects: creation, participants, the lifecycle and who sees what."""

from __future__ import annotations

import datetime as dt

from server.models.enums import AccountRole, InstitutionRole, MemberRole, ProjectPhase
from tests.factories import gid

PROJECT_FIELDS = """
  id title acronym phase rdSignedOn startDate endDate nextPhases
  themes { code } partnerCountries { code }
  institutions { role institution { nameEn country { code } } }
  members { role researcher { nameEn } institution { nameEn } }
  phaseHistory { fromPhase toPhase note documentRef }
"""
CREATE = f"""mutation($input: CreateProjectInput!) {{
  createProject(input: $input) {{ project {{ {PROJECT_FIELDS} }} errors {{ field code message }} }}
}}"""
UPDATE = f"""mutation($input: UpdateProjectInput!) {{
  updateProject(input: $input) {{ project {{ {PROJECT_FIELDS} }} errors {{ field code message }} }}
}}"""
ADD_INSTITUTION = """mutation($input: AddProjectInstitutionInput!) {
  addProjectInstitution(input: $input) {
    project { institutions { role institution { nameEn } } } errors { field code message } }
}"""
ADD_MEMBER = """mutation($input: AddProjectMemberInput!) {
  addProjectMember(input: $input) {
    project { members { role researcher { nameEn } institution { nameEn } } }
    errors { field code message } }
}"""
TRANSITION = """mutation($input: TransitionProjectPhaseInput!) {
  transitionProjectPhase(input: $input) {
    project { phase rdSignedOn nextPhases phaseHistory { fromPhase toPhase note documentRef } }
    errors { field code message } }
}"""
PROJECTS = """query($f: ProjectFilter) {
  projects(filter: $f, first: 100) { totalCount nodes { title phase } } }"""
DISASTER = gid("Theme", 5)
GLOBAL_ENV = gid("Theme", 2)
ENV_ROOT = gid("Theme", 1)


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def titles(client, flt: dict | None = None) -> set[str]:
    data = await client(PROJECTS, {"f": flt})
    return {n["title"] for n in data["projects"]["nodes"]}


async def test_create_project_starts_at_identification(manager):
    payload = (
        await manager(
            CREATE,
            {
                "input": {
                    "title": "Flood early warning for the Chao Phraya basin",
                    "acronym": "FLOW",
                    "partnerCountries": ["th", "LA", "TH"],
                    "themeIds": [DISASTER],
                    "startDate": "2024-04-01",
                    "endDate": "2029-03-31",
                }
            },
        )
    )["createProject"]
    assert payload["errors"] == []
    project = payload["project"]
    assert project["phase"] == "IDENTIFICATION"
    assert project["nextPhases"] == ["REQUESTED", "WITHDRAWN"]
    assert [c["code"] for c in project["partnerCountries"]] == ["LA", "TH"]
    assert project["themes"] == [{"code": "disaster-prevention"}]
    assert project["phaseHistory"] == [
        {"fromPhase": None, "toPhase": "IDENTIFICATION", "note": "created", "documentRef": None}
    ]


async def test_create_project_validation(manager):
    before = await titles(manager)
    bad = {
        "title": "",
        "partnerCountries": ["JP", "QQ"],
        "themeIds": [gid("Theme", 999), gid("Institution", 1)],
        "startDate": "2025-01-01",
        "endDate": "2024-01-01",
        "summary": "s" * 20_001,
    }
    payload = (await manager(CREATE, {"input": bad}))["createProject"]
    assert payload["project"] is None
    # The wrong-type id is reported before the service runs: the first problem wins there.
    assert codes(payload) == {("themeIds", "INVALID_ID")}
    bad["themeIds"] = [gid("Theme", 999)]
    payload = (await manager(CREATE, {"input": bad}))["createProject"]
    assert codes(payload) == {
        ("title", "REQUIRED"),
        ("summary", "TOO_LONG"),
        ("endDate", "INVALID_PERIOD"),
        ("themeIds", "NOT_FOUND"),
        ("partnerCountries", "INVALID_COUNTRY"),
    }
    assert await titles(manager) == before


async def test_full_lifecycle_is_recorded(manager, factory):
    # a project that ended more than two years ago may be evaluated ex post
    project = await factory.project(
        phase=ProjectPhase.IDENTIFICATION, start=dt.date(2016, 4, 1), end=dt.date(2021, 3, 31)
    )
    pid = gid("Project", project.id)
    steps = [
        ("REQUESTED", {"documentRef": "ODA request 2024-17"}),
        ("APPROVED", {"note": "note verbale exchanged"}),
        ("PLANNING", {"note": "ex-ante evaluation"}),
        ("IMPLEMENTATION", {"rdSignedOn": "2024-06-30", "documentRef": "R/D 2024-06-30"}),
        ("COMPLETED", {"note": "terminal evaluation"}),
        ("FOLLOW_UP", {}),
        ("EX_POST_EVALUATED", {"note": "ex-post evaluation, 3 years after completion"}),
    ]
    for phase, extra in steps:
        payload = (
            await manager(TRANSITION, {"input": {"projectId": pid, "toPhase": phase, **extra}})
        )["transitionProjectPhase"]
        assert payload["errors"] == [], phase
        assert payload["project"]["phase"] == phase
    final = payload["project"]
    assert final["rdSignedOn"] == "2024-06-30"
    assert final["nextPhases"] == []
    history = [(h["fromPhase"], h["toPhase"]) for h in final["phaseHistory"]]
    phases = ["IDENTIFICATION"] + [s for s, _ in steps]
    assert history == [(None, "IDENTIFICATION"), *zip(phases[:-1], phases[1:], strict=True)]
    assert final["phaseHistory"][4]["documentRef"] == "R/D 2024-06-30"


async def test_invalid_transitions_are_refused_and_change_nothing(manager, factory):
    project = await factory.project(phase=ProjectPhase.PLANNING)
    pid = gid("Project", project.id)
    payload = (
        await manager(TRANSITION, {"input": {"projectId": pid, "toPhase": "IMPLEMENTATION"}})
    )["transitionProjectPhase"]
    assert codes(payload) == {("rdSignedOn", "RD_REQUIRED")}
    payload = (await manager(TRANSITION, {"input": {"projectId": pid, "toPhase": "REQUESTED"}}))[
        "transitionProjectPhase"
    ]
    assert codes(payload) == {("toPhase", "INVALID_TRANSITION")}
    data = await manager(
        f'{{ node(id: "{pid}") {{ ... on Project {{ phase phaseHistory {{ toPhase }} }} }} }}'
    )
    assert data["node"]["phase"] == "PLANNING"
    assert len(data["node"]["phaseHistory"]) == 4
    rejected = await factory.project(phase=ProjectPhase.REJECTED)
    payload = (
        await manager(
            TRANSITION, {"input": {"projectId": gid("Project", rejected.id), "toPhase": "APPROVED"}}
        )
    )["transitionProjectPhase"]
    assert codes(payload) == {("toPhase", "INVALID_TRANSITION")}
    missing = {"projectId": gid("Project", 999_999), "toPhase": "REQUESTED"}
    assert codes((await manager(TRANSITION, {"input": missing}))["transitionProjectPhase"]) == {
        ("projectId", "NOT_FOUND")
    }


async def test_only_staff_move_phases(gql, make_token, factory):
    project = await factory.project(phase=ProjectPhase.APPROVED)
    variables = {"input": {"projectId": gid("Project", project.id), "toPhase": "PLANNING"}}
    researcher = gql.as_(await make_token(AccountRole.RESEARCHER))
    assert codes((await researcher(TRANSITION, variables))["transitionProjectPhase"]) == {
        (None, "FORBIDDEN")
    }
    assert codes((await gql(TRANSITION, variables))["transitionProjectPhase"]) == {
        (None, "UNAUTHENTICATED")
    }


async def test_institution_roles_follow_countries(manager, factory):
    project = await factory.project(countries=("KE",))
    pid = gid("Project", project.id)
    japan = await factory.institution("JP", name_en="Nagasaki University")
    kenya = await factory.institution("KE", name_en="KEMRI")
    brazil = await factory.institution("BR", name_en="Fiocruz")

    async def add(inst, role):
        variables = {
            "input": {"projectId": pid, "institutionId": gid("Institution", inst.id), "role": role}
        }
        return (await manager(ADD_INSTITUTION, variables))["addProjectInstitution"]

    assert codes(await add(kenya, "JAPANESE_LEAD")) == {("role", "ROLE_COUNTRY_MISMATCH")}
    assert codes(await add(japan, "PARTNER_LEAD")) == {("role", "ROLE_COUNTRY_MISMATCH")}
    assert codes(await add(kenya, "THIRD_COUNTRY")) == {("role", "ROLE_COUNTRY_MISMATCH")}
    assert (await add(japan, "JAPANESE_LEAD"))["errors"] == []
    assert (await add(kenya, "PARTNER_LEAD"))["errors"] == []
    done = await add(brazil, "THIRD_COUNTRY")
    assert done["errors"] == []
    assert [(i["role"], i["institution"]["nameEn"]) for i in done["project"]["institutions"]] == [
        ("JAPANESE_LEAD", "Nagasaki University"),
        ("PARTNER_LEAD", "KEMRI"),
        ("THIRD_COUNTRY", "Fiocruz"),
    ]
    assert codes(await add(japan, "JAPANESE_PARTICIPANT")) == {("institutionId", "DUPLICATE")}
    other_jp = await factory.institution("JP")
    assert codes(await add(other_jp, "JAPANESE_LEAD")) == {("role", "DUPLICATE_LEAD")}


async def test_members_and_project_managers(gql, make_token, factory):
    project = await factory.project(countries=("ID",))
    pid = gid("Project", project.id)
    lipi = await factory.institution("ID", name_en="BRIN")
    await factory.link(project.id, lipi.id, InstitutionRole.PARTNER_LEAD)
    pi = await factory.researcher(name_en="Sato Hanako")
    counterpart = await factory.researcher(name_en="Dewi Lestari")
    await factory.member(project.id, pi.id, MemberRole.JAPANESE_PI)
    pi_client = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=pi.id))
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))

    variables = {
        "input": {
            "projectId": pid,
            "researcherId": gid("Researcher", counterpart.id),
            "role": "COUNTERPART",
            "institutionId": gid("Institution", lipi.id),
        }
    }
    denied = (await outsider(ADD_MEMBER, variables))["addProjectMember"]
    assert codes(denied) == {(None, "FORBIDDEN")}
    added = (await pi_client(ADD_MEMBER, variables))["addProjectMember"]
    assert added["errors"] == []
    assert added["project"]["members"][-1] == {
        "role": "COUNTERPART",
        "researcher": {"nameEn": "Dewi Lestari"},
        "institution": {"nameEn": "BRIN"},
    }
    again = (await pi_client(ADD_MEMBER, variables))["addProjectMember"]
    assert codes(again) == {("role", "DUPLICATE")}
    stranger_inst = await factory.institution("ID")
    variables["input"]["institutionId"] = gid("Institution", stranger_inst.id)
    variables["input"]["role"] = "MEMBER"
    assert codes((await pi_client(ADD_MEMBER, variables))["addProjectMember"]) == {
        ("institutionId", "NOT_PARTICIPATING")
    }
    variables["input"]["researcherId"] = gid("Researcher", 999_999)
    assert codes((await pi_client(ADD_MEMBER, variables))["addProjectMember"]) == {
        ("researcherId", "NOT_FOUND")
    }
    # the PI may edit the project, the outsider may not
    update = {"input": {"id": pid, "summary": "Peatland fire monitoring"}}
    assert (await pi_client(UPDATE, update))["updateProject"]["errors"] == []
    assert codes((await outsider(UPDATE, update))["updateProject"]) == {(None, "FORBIDDEN")}


async def test_update_project_replaces_links(manager, factory):
    project = await factory.project(countries=("TH",), theme_ids=(5,))
    variables = {
        "input": {
            "id": gid("Project", project.id),
            "title": "Renamed",
            "partnerCountries": ["VN", "KH"],
            "themeIds": [GLOBAL_ENV],
            "endDate": "2030-03-31",
        }
    }
    payload = (await manager(UPDATE, variables))["updateProject"]
    assert payload["errors"] == []
    updated = payload["project"]
    assert updated["title"] == "Renamed"
    assert [c["code"] for c in updated["partnerCountries"]] == ["KH", "VN"]
    assert updated["themes"] == [{"code": "global-environment"}]
    assert updated["endDate"] == "2030-03-31"
    bad = {"input": {"id": gid("Project", project.id), "endDate": "2000-01-01"}}
    assert codes((await manager(UPDATE, bad))["updateProject"]) == {("endDate", "INVALID_PERIOD")}
    nothing = {"input": {"id": gid("Project", project.id)}}
    assert codes((await manager(UPDATE, nothing))["updateProject"]) == {(None, "NOTHING_TO_UPDATE")}


async def test_proposals_are_visible_only_to_staff_and_participants(gql, make_token, factory):
    public = await factory.project(phase=ProjectPhase.IMPLEMENTATION, title="Public one")
    proposal = await factory.project(phase=ProjectPhase.REQUESTED, title="Proposal")
    partner = await factory.institution("TH")
    await factory.link(proposal.id, partner.id, InstitutionRole.PARTNER_LEAD)
    member = await factory.researcher()
    await factory.member(proposal.id, member.id, MemberRole.PARTNER_PI)

    assert await titles(gql) == {"Public one"}
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    assert await titles(outsider) == {"Public one"}
    as_member = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id))
    assert await titles(as_member) == {"Public one", "Proposal"}
    uploader = gql.as_(
        await make_token(AccountRole.INSTITUTION_UPLOADER, institution_id=partner.id)
    )
    assert await titles(uploader) == {"Public one", "Proposal"}
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    assert await titles(manager) == {"Public one", "Proposal"}

    # the same rule holds for node(id:), nested lists and counts
    hidden = gid("Project", proposal.id)
    assert (await gql(f'{{ node(id: "{hidden}") {{ id }} }}'))["node"] is None
    assert (await as_member(f'{{ node(id: "{hidden}") {{ id }} }}'))["node"] == {"id": hidden}
    nested = await gql(
        f'{{ node(id: "{gid("Institution", partner.id)}") {{ ... on Institution {{ projects {{ title }} }} }} }}'
    )
    assert nested["node"]["projects"] == []
    theme = await gql("{ themes { code projects { title } } }")
    assert {p["title"] for t in theme["themes"] for p in t["projects"]} == {"Public one"}
    count = await gql("{ projects { totalCount } }")
    assert count["projects"]["totalCount"] == 1
    assert public.id != proposal.id


async def test_project_filters(gql, factory):
    kenya = await factory.institution("KE")
    await factory.project(
        title="Malaria KE",
        countries=("KE",),
        theme_ids=(6,),
        start=dt.date(2018, 4, 1),
        end=dt.date(2023, 3, 31),
    )
    p2 = await factory.project(
        title="Forest BR",
        countries=("BR",),
        theme_ids=(2,),
        start=dt.date(2021, 4, 1),
        end=dt.date(2026, 3, 31),
    )
    await factory.project(
        title="Energy VN",
        countries=("VN", "KE"),
        theme_ids=(3,),
        phase=ProjectPhase.COMPLETED,
        start=dt.date(2015, 4, 1),
        end=dt.date(2020, 3, 31),
    )
    await factory.link(p2.id, kenya.id, InstitutionRole.THIRD_COUNTRY)

    assert await titles(gql, {"country": "ke"}) == {"Malaria KE", "Energy VN"}
    # a root theme includes its sub-themes
    assert await titles(gql, {"themeId": ENV_ROOT}) == {"Forest BR", "Energy VN"}
    assert await titles(gql, {"themeId": GLOBAL_ENV}) == {"Forest BR"}
    assert await titles(gql, {"phase": "COMPLETED"}) == {"Energy VN"}
    assert await titles(gql, {"institutionId": gid("Institution", kenya.id)}) == {"Forest BR"}
    assert await titles(gql, {"year": 2022}) == {"Malaria KE", "Forest BR"}
    assert await titles(gql, {"year": 2019, "country": "KE"}) == {"Malaria KE", "Energy VN"}
    errors = await gql.errors(PROJECTS, {"f": {"themeId": gid("Project", 1)}})
    assert errors[0]["extensions"]["code"] == "INVALID_ID"


async def test_ex_post_evaluation_waits_two_years_unless_an_admin_overrides(
    gql, make_token, factory
):
    recent = await factory.project(
        phase=ProjectPhase.COMPLETED, start=dt.date(2020, 4, 1), end=dt.date.today()
    )
    variables = {"input": {"projectId": gid("Project", recent.id), "toPhase": "EX_POST_EVALUATED"}}
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    assert codes((await manager(TRANSITION, variables))["transitionProjectPhase"]) == {
        ("toPhase", "EX_POST_TOO_EARLY")
    }
    variables["input"]["overrideReason"] = "donor review needs it now"
    assert codes((await manager(TRANSITION, variables))["transitionProjectPhase"]) == {
        ("overrideReason", "OVERRIDE_NOT_ALLOWED")
    }
    done = (await admin(TRANSITION, variables))["transitionProjectPhase"]
    assert done["errors"] == []
    assert done["project"]["phase"] == "EX_POST_EVALUATED"
    last = done["project"]["phaseHistory"][-1]
    assert last["toPhase"] == "EX_POST_EVALUATED"
    history = await admin(
        f'{{ node(id: "{gid("Project", recent.id)}") {{ ... on Project {{ phaseHistory {{ overrideReason }} }} }} }}'
    )
    assert history["node"]["phaseHistory"][-1]["overrideReason"] == "donor review needs it now"


async def test_completion_date_falls_back_to_the_completed_transition(manager, factory):
    open_ended = await factory.project(phase=ProjectPhase.COMPLETED, end=None)
    variables = {"input": {"projectId": gid("Project", open_ended.id), "toPhase": "FOLLOW_UP"}}
    assert (await manager(TRANSITION, variables))["transitionProjectPhase"]["errors"] == []
    variables["input"]["toPhase"] = "EX_POST_EVALUATED"
    errors = (await manager(TRANSITION, variables))["transitionProjectPhase"]["errors"]
    assert errors[0]["code"] == "EX_POST_TOO_EARLY"
    assert str(dt.date.today()) in errors[0]["message"]


# --- dates the lifecycle refuses (issue 18 item 13) ----------------------------------------


async def test_a_record_of_discussions_signed_in_the_future_is_refused(gql, make_token, factory):
    project = await factory.project(phase=ProjectPhase.PLANNING)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    variables = {
        "input": {
            "projectId": gid("Project", project.id),
            "toPhase": "IMPLEMENTATION",
            "rdSignedOn": str(tomorrow),
        }
    }
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    refused = (await manager(TRANSITION, variables))["transitionProjectPhase"]
    assert codes(refused) == {("rdSignedOn", "FUTURE_DATE")}
    assert refused["project"] is None
    variables["input"]["overrideReason"] = "signing ceremony fixed, recorded ahead"
    assert codes((await manager(TRANSITION, variables))["transitionProjectPhase"]) == {
        ("overrideReason", "OVERRIDE_NOT_ALLOWED")
    }
    done = (await admin(TRANSITION, variables))["transitionProjectPhase"]
    assert done["errors"] == [] and done["project"]["phase"] == "IMPLEMENTATION"
    today = {**variables["input"], "rdSignedOn": str(dt.date.today())}
    del today["overrideReason"]
    other = await factory.project(phase=ProjectPhase.PLANNING)
    today["projectId"] = gid("Project", other.id)
    assert (await manager(TRANSITION, {"input": today}))["transitionProjectPhase"]["errors"] == []


async def test_a_project_is_not_completed_before_its_period_starts(gql, make_token, factory):
    later = dt.date.today() + dt.timedelta(days=30)
    project = await factory.project(start=later, end=later + dt.timedelta(days=3 * 365))
    variables = {"input": {"projectId": gid("Project", project.id), "toPhase": "COMPLETED"}}
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    refused = (await manager(TRANSITION, variables))["transitionProjectPhase"]
    assert codes(refused) == {("toPhase", "PERIOD_NOT_STARTED")}
    assert str(later) in refused["errors"][0]["message"]
    variables["input"]["overrideReason"] = "cancelled by both governments before the start"
    assert codes((await manager(TRANSITION, variables))["transitionProjectPhase"]) == {
        ("overrideReason", "OVERRIDE_NOT_ALLOWED")
    }
    done = (await admin(TRANSITION, variables))["transitionProjectPhase"]
    assert done["errors"] == [] and done["project"]["phase"] == "COMPLETED"
    started = await factory.project(start=dt.date.today())
    variables = {"input": {"projectId": gid("Project", started.id), "toPhase": "COMPLETED"}}
    assert (await manager(TRANSITION, variables))["transitionProjectPhase"]["errors"] == []
