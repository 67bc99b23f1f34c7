"""Cooperation components: expert dispatch, technical training, equipment provision."""

from __future__ import annotations

import datetime as dt

import pytest

from server.models.enums import AccountRole, InstitutionRole, MemberRole, ProjectPhase
from server.researchers import service as researchers
from tests.factories import gid

ERRORS = "errors { field code message }"
DISPATCH_FIELDS = """
  id startDate endDate purpose
  project { title } expert { nameEn } originCountry { code } hostInstitution { nameEn }
  theme { code } counterparts { nameEn }
"""
CREATE_DISPATCH = f"""mutation($input: CreateExpertDispatchInput!) {{
  createExpertDispatch(input: $input) {{ expertDispatch {{ {DISPATCH_FIELDS} }} {ERRORS} }}
}}"""
COURSE_FIELDS = """
  id title courseType startDate endDate outcomeNotes project { title }
  hostCountry { code } hostInstitution { nameEn }
  participants { researcher { nameEn } institution { nameEn } }
"""
CREATE_COURSE = f"""mutation($input: CreateTrainingCourseInput!) {{
  createTrainingCourse(input: $input) {{ trainingCourse {{ {COURSE_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_COURSE = f"""mutation($input: UpdateTrainingCourseInput!) {{
  updateTrainingCourse(input: $input) {{ trainingCourse {{ {COURSE_FIELDS} }} {ERRORS} }}
}}"""
ADD_PARTICIPANT = f"""mutation($input: AddTrainingParticipantInput!) {{
  addTrainingParticipant(input: $input) {{ trainingCourse {{ {COURSE_FIELDS} }} {ERRORS} }}
}}"""
EQUIPMENT_FIELDS = """
  id item category quantity value currency deliveryDate status nextStatuses
  project { title } recipientInstitution { nameEn country { code } }
"""
CREATE_EQUIPMENT = f"""mutation($input: CreateEquipmentItemInput!) {{
  createEquipmentItem(input: $input) {{ equipmentItem {{ {EQUIPMENT_FIELDS} }} {ERRORS} }}
}}"""
UPDATE_STATUS = f"""mutation($input: UpdateEquipmentStatusInput!) {{
  updateEquipmentStatus(input: $input) {{ equipmentItem {{ {EQUIPMENT_FIELDS} }} {ERRORS} }}
}}"""
DISPATCHES = """query($f: ExpertDispatchFilter) {
  expertDispatches(filter: $f, first: 100) { totalCount nodes { purpose } } }"""
COURSES = """query($f: TrainingCourseFilter) {
  trainingCourses(filter: $f, first: 100) { totalCount nodes { title } } }"""
EQUIPMENT = """query($f: EquipmentItemFilter) {
  equipmentItems(filter: $f, first: 100) { totalCount nodes { item } } }"""
DISASTER = gid("Theme", 5)
GLOBAL_ENV = gid("Theme", 2)
ENV_ROOT = gid("Theme", 1)


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def affiliate(factory, researcher, institution, **values):
    return await factory._run(researchers.add_affiliation, researcher.id, institution.id, **values)


async def names(client, query: str, flt: dict | None, key: str, field: str) -> set[str]:
    data = (await client(query, {"f": flt}))[key]
    found = {n[field] for n in data["nodes"]}
    assert data["totalCount"] == len(found)
    return found


@pytest.fixture
async def setting(factory):
    """A project with Thailand as partner country, its institutions and people."""
    project = await factory.project(countries=("TH",), title="Landslide TH")
    jp = await factory.institution("JP", name_en="Kyoto University")
    th = await factory.institution("TH", name_en="Chulalongkorn University")
    th_other = await factory.institution("TH", name_en="Kasetsart University")
    await factory.link(project.id, jp.id, InstitutionRole.JAPANESE_LEAD)
    await factory.link(project.id, th.id, InstitutionRole.PARTNER_LEAD)
    expert = await factory.researcher(name_en="Tanaka Ichiro")
    await affiliate(factory, expert, jp)
    counterpart = await factory.researcher(name_en="Somchai Prasert")
    await affiliate(factory, counterpart, th, start_date=dt.date(2015, 1, 1))
    return {
        "project": project,
        "pid": gid("Project", project.id),
        "jp": jp,
        "th": th,
        "th_other": th_other,
        "expert": expert,
        "counterpart": counterpart,
    }


def dispatch_input(s: dict, **extra) -> dict:
    return {
        "projectId": s["pid"],
        "expertId": gid("Researcher", s["expert"].id),
        "hostInstitutionId": gid("Institution", s["th"].id),
        "startDate": "2023-01-10",
        "endDate": "2023-03-31",
        "themeId": DISASTER,
        "purpose": "Slope monitoring sensors",
        "counterpartIds": [gid("Researcher", s["counterpart"].id)],
        **extra,
    }


# ---- expert dispatch -----------------------------------------------------------------


async def test_create_expert_dispatch(manager, setting):
    payload = (await manager(CREATE_DISPATCH, {"input": dispatch_input(setting)}))[
        "createExpertDispatch"
    ]
    assert payload["errors"] == []
    dispatch = payload["expertDispatch"]
    assert dispatch["project"] == {"title": "Landslide TH"}
    assert dispatch["expert"] == {"nameEn": "Tanaka Ichiro"}
    assert dispatch["originCountry"] == {"code": "JP"}
    assert dispatch["hostInstitution"] == {"nameEn": "Chulalongkorn University"}
    assert dispatch["theme"] == {"code": "disaster-prevention"}
    assert dispatch["counterparts"] == [{"nameEn": "Somchai Prasert"}]
    assert (dispatch["startDate"], dispatch["endDate"]) == ("2023-01-10", "2023-03-31")
    # a third-country expert, without theme or counterparts
    third = dispatch_input(setting, originCountry="br", themeId=None, counterpartIds=[])
    payload = (await manager(CREATE_DISPATCH, {"input": third}))["createExpertDispatch"]
    assert payload["errors"] == []
    assert payload["expertDispatch"]["originCountry"] == {"code": "BR"}
    assert payload["expertDispatch"]["theme"] is None

    node = await manager(
        f'{{ node(id: "{dispatch["id"]}") {{ ... on ExpertDispatch {{ purpose }} }} }}'
    )
    assert node["node"] == {"purpose": "Slope monitoring sensors"}
    project = await manager(
        f"""{{ node(id: "{setting["pid"]}") {{ ... on Project {{
          expertDispatches {{ originCountry {{ code }} counterparts {{ nameEn }} }} }} }} }}"""
    )
    assert project["node"]["expertDispatches"] == [
        {"originCountry": {"code": "JP"}, "counterparts": [{"nameEn": "Somchai Prasert"}]},
        {"originCountry": {"code": "BR"}, "counterparts": []},
    ]


async def test_expert_dispatch_validation(manager, factory, setting):
    outsider = await factory.researcher(name_en="Not a partner")
    await affiliate(factory, outsider, setting["jp"])
    left_early = await factory.researcher(name_en="Left in 2020")
    await affiliate(
        factory,
        left_early,
        setting["th"],
        start_date=dt.date(2010, 1, 1),
        end_date=dt.date(2020, 1, 1),
    )
    bad = dispatch_input(
        setting,
        originCountry="TH",
        hostInstitutionId=gid("Institution", setting["jp"].id),
        themeId=gid("Theme", 999),
        startDate="2021-01-01",
        endDate="2027-12-31",
        purpose="p" * 5001,
        counterpartIds=[
            gid("Researcher", setting["counterpart"].id),
            gid("Researcher", outsider.id),
            gid("Researcher", left_early.id),
            gid("Researcher", 999_999),
        ],
    )
    payload = (await manager(CREATE_DISPATCH, {"input": bad}))["createExpertDispatch"]
    assert payload["expertDispatch"] is None
    assert codes(payload) == {
        ("originCountry", "INVALID_ORIGIN"),
        ("hostInstitutionId", "HOST_NOT_IN_PARTNER_COUNTRY"),
        ("themeId", "NOT_FOUND"),
        ("startDate", "OUTSIDE_PROJECT_PERIOD"),
        ("endDate", "OUTSIDE_PROJECT_PERIOD"),
        ("purpose", "TOO_LONG"),
        ("counterpartIds", "NOT_FOUND"),
        ("counterpartIds", "COUNTERPART_NOT_PARTNER"),
    }
    message = next(
        e["message"] for e in payload["errors"] if e["code"] == "COUNTERPART_NOT_PARTNER"
    )
    assert str(outsider.id) in message and str(left_early.id) in message
    assert str(setting["counterpart"].id) not in message

    more = dispatch_input(
        setting,
        originCountry="XX",
        expertId=gid("Researcher", 999_999),
        startDate="2023-05-01",
        endDate="2023-04-01",
    )
    assert codes((await manager(CREATE_DISPATCH, {"input": more}))["createExpertDispatch"]) == {
        ("expertId", "NOT_FOUND"),
        ("originCountry", "INVALID_COUNTRY"),
        ("endDate", "INVALID_PERIOD"),
    }
    wrong_type = dispatch_input(setting, expertId=setting["pid"])
    assert codes(
        (await manager(CREATE_DISPATCH, {"input": wrong_type}))["createExpertDispatch"]
    ) == {("expertId", "INVALID_ID")}
    assert (await manager(DISPATCHES))["expertDispatches"]["totalCount"] == 0


async def test_only_editors_write_and_only_to_visible_projects(gql, make_token, factory, setting):
    pi = await factory.researcher()
    await factory.member(setting["project"].id, pi.id, MemberRole.JAPANESE_PI)
    as_pi = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=pi.id))
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    variables = {"input": dispatch_input(setting)}
    assert codes((await gql(CREATE_DISPATCH, variables))["createExpertDispatch"]) == {
        (None, "UNAUTHENTICATED")
    }
    assert codes((await outsider(CREATE_DISPATCH, variables))["createExpertDispatch"]) == {
        (None, "FORBIDDEN")
    }
    assert (await as_pi(CREATE_DISPATCH, variables))["createExpertDispatch"]["errors"] == []
    proposal = await factory.project(phase=ProjectPhase.REQUESTED)
    hidden = {"input": dispatch_input(setting, projectId=gid("Project", proposal.id))}
    assert codes((await outsider(CREATE_DISPATCH, hidden))["createExpertDispatch"]) == {
        ("projectId", "NOT_FOUND")
    }


# ---- technical training --------------------------------------------------------------


def course_input(s: dict, **extra) -> dict:
    return {
        "projectId": s["pid"],
        "title": "Landslide risk assessment",
        "courseType": "COUNTRY_FOCUS",
        "hostCountry": "jp",
        "hostInstitutionId": gid("Institution", s["jp"].id),
        "startDate": "2023-06-01",
        "endDate": "2023-06-30",
        **extra,
    }


async def test_training_course_and_participants(manager, factory, setting):
    payload = (await manager(CREATE_COURSE, {"input": course_input(setting)}))[
        "createTrainingCourse"
    ]
    assert payload["errors"] == []
    course = payload["trainingCourse"]
    assert course["courseType"] == "COUNTRY_FOCUS"
    assert course["hostCountry"] == {"code": "JP"}
    assert course["hostInstitution"] == {"nameEn": "Kyoto University"}
    assert course["participants"] == []
    course_id = course["id"]

    add = {
        "courseId": course_id,
        "researcherId": gid("Researcher", setting["counterpart"].id),
        "institutionId": gid("Institution", setting["th"].id),
    }
    payload = (await manager(ADD_PARTICIPANT, {"input": add}))["addTrainingParticipant"]
    assert payload["errors"] == []
    assert payload["trainingCourse"]["participants"] == [
        {
            "researcher": {"nameEn": "Somchai Prasert"},
            "institution": {"nameEn": "Chulalongkorn University"},
        }
    ]
    again = (await manager(ADD_PARTICIPANT, {"input": add}))["addTrainingParticipant"]
    assert codes(again) == {("researcherId", "DUPLICATE")}
    # the Japanese lead is no partner institution; Kasetsart does not take part
    japanese = {**add, "researcherId": gid("Researcher", setting["expert"].id)}
    japanese["institutionId"] = gid("Institution", setting["jp"].id)
    assert codes(
        (await manager(ADD_PARTICIPANT, {"input": japanese}))["addTrainingParticipant"]
    ) == {("institutionId", "TRAINEE_NOT_FROM_PARTNER")}
    other = await factory.researcher()
    await affiliate(factory, other, setting["th_other"])
    stranger = {**add, "researcherId": gid("Researcher", other.id)}
    stranger["institutionId"] = gid("Institution", setting["th_other"].id)
    assert codes(
        (await manager(ADD_PARTICIPANT, {"input": stranger}))["addTrainingParticipant"]
    ) == {("institutionId", "TRAINEE_NOT_FROM_PARTNER")}
    not_there = {**add, "researcherId": gid("Researcher", other.id)}
    assert codes(
        (await manager(ADD_PARTICIPANT, {"input": not_there}))["addTrainingParticipant"]
    ) == {("researcherId", "TRAINEE_NOT_AFFILIATED")}
    missing = {**add, "courseId": gid("TrainingCourse", 999_999)}
    assert codes(
        (await manager(ADD_PARTICIPANT, {"input": missing}))["addTrainingParticipant"]
    ) == {("courseId", "NOT_FOUND")}

    update = {"id": course_id, "outcomeNotes": "  Trainees drafted hazard maps for Nan.  "}
    payload = (await manager(UPDATE_COURSE, {"input": update}))["updateTrainingCourse"]
    assert payload["errors"] == []
    assert payload["trainingCourse"]["outcomeNotes"] == "Trainees drafted hazard maps for Nan."
    assert payload["trainingCourse"]["courseType"] == "COUNTRY_FOCUS"
    assert len(payload["trainingCourse"]["participants"]) == 1
    nothing = (await manager(UPDATE_COURSE, {"input": {"id": course_id}}))["updateTrainingCourse"]
    assert codes(nothing) == {(None, "NOTHING_TO_UPDATE")}
    in_country = {"id": course_id, "courseType": "IN_COUNTRY"}
    assert codes((await manager(UPDATE_COURSE, {"input": in_country}))["updateTrainingCourse"]) == {
        ("hostCountry", "INVALID_HOST_COUNTRY")
    }
    moved = {
        "id": course_id,
        "courseType": "IN_COUNTRY",
        "hostCountry": "TH",
        "hostInstitutionId": gid("Institution", setting["th"].id),
        "endDate": None,
    }
    payload = (await manager(UPDATE_COURSE, {"input": moved}))["updateTrainingCourse"]
    assert payload["errors"] == []
    course = payload["trainingCourse"]
    assert (course["courseType"], course["hostCountry"], course["endDate"]) == (
        "IN_COUNTRY",
        {"code": "TH"},
        None,
    )
    assert course["outcomeNotes"] == "Trainees drafted hazard maps for Nan."
    project = await manager(
        f"""{{ node(id: "{setting["pid"]}") {{ ... on Project {{
          trainingCourses {{ title participants {{ researcher {{ nameEn }} }} }} }} }} }}"""
    )
    assert project["node"]["trainingCourses"] == [
        {
            "title": "Landslide risk assessment",
            "participants": [{"researcher": {"nameEn": "Somchai Prasert"}}],
        }
    ]


@pytest.mark.parametrize(
    ("course_type", "host", "ok"),
    [
        ("GROUP_REGION_FOCUS", "JP", True),
        ("YOUNG_LEADERS", "JP", True),
        ("YOUNG_LEADERS", "TH", False),
        ("COUNTRY_FOCUS", "MY", False),
        ("THIRD_COUNTRY", "MY", True),
        ("THIRD_COUNTRY", "JP", False),
        ("THIRD_COUNTRY", "TH", False),
        ("IN_COUNTRY", "TH", True),
        ("IN_COUNTRY", "JP", False),
        ("IN_COUNTRY", "MY", False),
    ],
)
async def test_course_type_decides_the_host_country(manager, setting, course_type, host, ok):
    variables = {
        "input": course_input(
            setting, courseType=course_type, hostCountry=host, hostInstitutionId=None
        )
    }
    payload = (await manager(CREATE_COURSE, variables))["createTrainingCourse"]
    if ok:
        assert payload["errors"] == []
        assert payload["trainingCourse"]["hostCountry"] == {"code": host}
    else:
        assert codes(payload) == {("hostCountry", "INVALID_HOST_COUNTRY")}


async def test_training_course_validation(manager, setting):
    bad = course_input(
        setting,
        title=" ",
        hostInstitutionId=gid("Institution", setting["th"].id),
        startDate="2022-01-01",
        endDate="2027-04-01",
        outcomeNotes="bell\x07",
    )
    payload = (await manager(CREATE_COURSE, {"input": bad}))["createTrainingCourse"]
    assert payload["trainingCourse"] is None
    assert codes(payload) == {
        ("title", "REQUIRED"),
        ("hostInstitutionId", "INVALID_HOST_COUNTRY"),
        ("startDate", "OUTSIDE_PROJECT_PERIOD"),
        ("endDate", "OUTSIDE_PROJECT_PERIOD"),
        ("outcomeNotes", "INVALID_TEXT"),
    }
    more = course_input(setting, hostCountry="ZZ", hostInstitutionId=gid("Institution", 999_999))
    assert codes((await manager(CREATE_COURSE, {"input": more}))["createTrainingCourse"]) == {
        ("hostCountry", "INVALID_COUNTRY"),
        ("hostInstitutionId", "NOT_FOUND"),
    }


# ---- equipment -----------------------------------------------------------------------


def equipment_input(s: dict, **extra) -> dict:
    return {
        "projectId": s["pid"],
        "item": "Borehole inclinometer",
        "category": "monitoring",
        "quantity": 4,
        "value": "1250000.5",
        "currency": "jpy",
        "recipientInstitutionId": gid("Institution", s["th"].id),
        **extra,
    }


async def test_equipment_and_its_status(manager, setting):
    payload = (await manager(CREATE_EQUIPMENT, {"input": equipment_input(setting)}))[
        "createEquipmentItem"
    ]
    assert payload["errors"] == []
    item = payload["equipmentItem"]
    assert (item["quantity"], item["value"], item["currency"]) == (4, "1250000.50", "JPY")
    assert (item["status"], item["deliveryDate"]) == ("ORDERED", None)
    assert item["nextStatuses"] == ["DELIVERED", "IN_USE"]
    assert item["recipientInstitution"] == {
        "nameEn": "Chulalongkorn University",
        "country": {"code": "TH"},
    }
    item_id = item["id"]

    async def move(status: str, date: str | None = None) -> dict:
        variables = {"input": {"id": item_id, "status": status, "deliveryDate": date}}
        return (await manager(UPDATE_STATUS, variables))["updateEquipmentStatus"]

    assert codes(await move("DELIVERED")) == {("deliveryDate", "REQUIRED")}
    assert codes(await move("DELIVERED", "2028-01-01")) == {
        ("deliveryDate", "OUTSIDE_PROJECT_PERIOD")
    }
    done = await move("DELIVERED", "2023-02-01")
    assert done["errors"] == []
    assert (done["equipmentItem"]["status"], done["equipmentItem"]["deliveryDate"]) == (
        "DELIVERED",
        "2023-02-01",
    )
    assert codes(await move("ORDERED")) == {("status", "INVALID_STATUS_CHANGE")}
    assert codes(await move("DELIVERED")) == {("status", "NOTHING_TO_UPDATE")}
    assert (await move("DELIVERED", "2023-02-03"))["equipmentItem"]["deliveryDate"] == "2023-02-03"
    assert (await move("IN_USE"))["equipmentItem"]["status"] == "IN_USE"
    assert (await move("OUT_OF_SERVICE"))["equipmentItem"]["nextStatuses"] == ["IN_USE"]
    repaired = await move("IN_USE")
    assert repaired["errors"] == []
    assert repaired["equipmentItem"]["deliveryDate"] == "2023-02-03"
    assert codes(await move("ORDERED")) == {("status", "INVALID_STATUS_CHANGE")}

    node = await manager(
        f'{{ node(id: "{item_id}") {{ ... on EquipmentItem {{ status value currency }} }} }}'
    )
    assert node["node"] == {"status": "IN_USE", "value": "1250000.50", "currency": "JPY"}
    project = await manager(
        f'{{ node(id: "{setting["pid"]}") {{ ... on Project {{ equipment {{ item status }} }} }} }}'
    )
    assert project["node"]["equipment"] == [{"item": "Borehole inclinometer", "status": "IN_USE"}]
    missing = {"input": {"id": gid("EquipmentItem", 999_999), "status": "IN_USE"}}
    assert codes((await manager(UPDATE_STATUS, missing))["updateEquipmentStatus"]) == {
        ("id", "NOT_FOUND")
    }


async def test_equipment_validation(manager, setting):
    bad = equipment_input(
        setting,
        item="",
        quantity=0,
        currency="XYZ",
        recipientInstitutionId=gid("Institution", setting["th_other"].id),
        status="DELIVERED",
    )
    payload = (await manager(CREATE_EQUIPMENT, {"input": bad}))["createEquipmentItem"]
    assert payload["equipmentItem"] is None
    assert codes(payload) == {
        ("item", "REQUIRED"),
        ("quantity", "INVALID_QUANTITY"),
        ("currency", "UNKNOWN_CURRENCY"),
        ("recipientInstitutionId", "NOT_PARTICIPATING"),
        ("deliveryDate", "REQUIRED"),
    }
    more = equipment_input(setting, value="-1", currency=None, deliveryDate="2022-03-31")
    assert codes((await manager(CREATE_EQUIPMENT, {"input": more}))["createEquipmentItem"]) == {
        ("value", "INVALID_VALUE"),
        ("currency", "REQUIRED"),
        ("deliveryDate", "OUTSIDE_PROJECT_PERIOD"),
    }
    cents = equipment_input(setting, value="10.001", currency="EURO")
    assert codes((await manager(CREATE_EQUIPMENT, {"input": cents}))["createEquipmentItem"]) == {
        ("value", "INVALID_VALUE"),
        ("currency", "UNKNOWN_CURRENCY"),
    }
    # a Japanese participant may receive equipment too; no value, no currency needed
    free = equipment_input(
        setting,
        value=None,
        currency=None,
        recipientInstitutionId=gid("Institution", setting["jp"].id),
        status="IN_USE",
        deliveryDate="2022-04-01",
    )
    payload = (await manager(CREATE_EQUIPMENT, {"input": free}))["createEquipmentItem"]
    assert payload["errors"] == []
    assert (payload["equipmentItem"]["value"], payload["equipmentItem"]["currency"]) == (None, None)


# ---- connections, filters and visibility ----------------------------------------------


async def test_connection_filters(manager, gql, factory):
    th_project = await factory.project(countries=("TH",), title="TH project")
    ke_project = await factory.project(
        countries=("KE", "TZ"), start=dt.date(2019, 4, 1), end=dt.date(2024, 3, 31)
    )
    th = await factory.institution("TH")
    ke = await factory.institution("KE")
    tz = await factory.institution("TZ")
    jp = await factory.institution("JP")
    await factory.link(th_project.id, th.id, InstitutionRole.PARTNER_LEAD)
    await factory.link(ke_project.id, ke.id, InstitutionRole.PARTNER_LEAD)
    await factory.link(ke_project.id, tz.id, InstitutionRole.PARTNER_PARTICIPANT)
    await factory.link(ke_project.id, jp.id, InstitutionRole.JAPANESE_LEAD)
    expert = await factory.researcher()
    th_pid, ke_pid = gid("Project", th_project.id), gid("Project", ke_project.id)

    async def dispatch(pid, host, start, end, purpose, origin="JP", theme=None):
        variables = {
            "input": {
                "projectId": pid,
                "expertId": gid("Researcher", expert.id),
                "hostInstitutionId": gid("Institution", host.id),
                "originCountry": origin,
                "startDate": start,
                "endDate": end,
                "themeId": theme,
                "purpose": purpose,
            }
        }
        payload = (await manager(CREATE_DISPATCH, variables))["createExpertDispatch"]
        assert payload["errors"] == []

    await dispatch(th_pid, th, "2022-05-01", "2023-02-28", "th-2022", theme=DISASTER)
    await dispatch(ke_pid, ke, "2020-01-01", None, "ke-open", origin="US", theme=GLOBAL_ENV)
    await dispatch(ke_pid, tz, "2021-06-01", "2021-07-01", "tz-2021")

    async def dispatches(flt):
        return await names(gql, DISPATCHES, flt, "expertDispatches", "purpose")

    assert await dispatches(None) == {"th-2022", "ke-open", "tz-2021"}
    assert await dispatches({"projectId": ke_pid}) == {"ke-open", "tz-2021"}
    assert await dispatches({"hostCountry": "tz"}) == {"tz-2021"}
    assert await dispatches({"themeId": ENV_ROOT}) == {"ke-open"}
    assert await dispatches({"themeId": DISASTER}) == {"th-2022"}
    assert await dispatches({"year": 2022}) == {"th-2022", "ke-open"}
    assert await dispatches({"year": 2021, "projectId": ke_pid}) == {"ke-open", "tz-2021"}
    assert await dispatches({"originCountry": "us"}) == {"ke-open"}
    assert await dispatches({"year": 2019}) == set()

    async def course(pid, course_type, host, start, end, title):
        variables = {
            "input": {
                "projectId": pid,
                "title": title,
                "courseType": course_type,
                "hostCountry": host,
                "startDate": start,
                "endDate": end,
            }
        }
        payload = (await manager(CREATE_COURSE, variables))["createTrainingCourse"]
        assert payload["errors"] == []

    await course(th_pid, "GROUP_REGION_FOCUS", "JP", "2023-09-01", "2023-10-15", "kccp")
    await course(ke_pid, "IN_COUNTRY", "KE", "2021-12-20", "2022-01-10", "nairobi")
    await course(ke_pid, "THIRD_COUNTRY", "ZA", "2023-03-01", None, "pretoria")

    async def courses(flt):
        return await names(gql, COURSES, flt, "trainingCourses", "title")

    assert await courses(None) == {"kccp", "nairobi", "pretoria"}
    assert await courses({"projectId": th_pid}) == {"kccp"}
    assert await courses({"hostCountry": "ke"}) == {"nairobi"}
    assert await courses({"courseType": "THIRD_COUNTRY"}) == {"pretoria"}
    assert await courses({"year": 2022}) == {"nairobi"}
    assert await courses({"year": 2023, "projectId": ke_pid}) == {"pretoria"}

    async def equipment(pid, recipient, item, status="ORDERED", date=None):
        variables = {
            "input": {
                "projectId": pid,
                "item": item,
                "recipientInstitutionId": gid("Institution", recipient.id),
                "status": status,
                "deliveryDate": date,
            }
        }
        payload = (await manager(CREATE_EQUIPMENT, variables))["createEquipmentItem"]
        assert payload["errors"] == []

    await equipment(th_pid, th, "radar", "DELIVERED", "2022-12-31")
    await equipment(ke_pid, ke, "sequencer", "IN_USE", "2023-01-01")
    await equipment(ke_pid, jp, "freezer")

    async def items(flt):
        return await names(gql, EQUIPMENT, flt, "equipmentItems", "item")

    assert await items(None) == {"radar", "sequencer", "freezer"}
    assert await items({"projectId": ke_pid}) == {"sequencer", "freezer"}
    assert await items({"recipientCountry": "jp"}) == {"freezer"}
    assert await items({"status": "IN_USE"}) == {"sequencer"}
    assert await items({"year": 2022}) == {"radar"}
    assert await items({"year": 2023}) == {"sequencer"}

    errors = await gql.errors(DISPATCHES, {"f": {"projectId": gid("Theme", 1)}})
    assert errors[0]["extensions"] == {"code": "INVALID_ID", "field": "filter.projectId"}
    # keyset pages
    page = await gql("{ expertDispatches(first: 2) { pageInfo { hasNextPage endCursor } } }")
    info = page["expertDispatches"]["pageInfo"]
    assert info["hasNextPage"] is True
    rest = await gql(
        "query($a: String) { expertDispatches(first: 2, after: $a) { nodes { purpose } } }",
        {"a": info["endCursor"]},
    )
    assert rest["expertDispatches"]["nodes"] == [{"purpose": "tz-2021"}]


async def test_records_of_a_proposal_are_hidden_like_the_proposal(gql, make_token, factory):
    proposal = await factory.project(phase=ProjectPhase.REQUESTED, countries=("VN",))
    partner = await factory.institution("VN")
    await factory.link(proposal.id, partner.id, InstitutionRole.PARTNER_LEAD)
    member = await factory.researcher()
    await factory.member(proposal.id, member.id, MemberRole.PARTNER_PI)
    await affiliate(factory, member, partner)
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    pid = gid("Project", proposal.id)
    dispatch = (
        await manager(
            CREATE_DISPATCH,
            {
                "input": {
                    "projectId": pid,
                    "expertId": gid("Researcher", member.id),
                    "hostInstitutionId": gid("Institution", partner.id),
                    "startDate": "2023-01-01",
                    "purpose": "hidden",
                }
            },
        )
    )["createExpertDispatch"]["expertDispatch"]
    course = (
        await manager(
            CREATE_COURSE,
            {
                "input": {
                    "projectId": pid,
                    "title": "hidden",
                    "courseType": "IN_COUNTRY",
                    "hostCountry": "VN",
                    "startDate": "2023-01-01",
                }
            },
        )
    )["createTrainingCourse"]["trainingCourse"]
    item = (
        await manager(
            CREATE_EQUIPMENT,
            {
                "input": {
                    "projectId": pid,
                    "item": "hidden",
                    "recipientInstitutionId": gid("Institution", partner.id),
                }
            },
        )
    )["createEquipmentItem"]["equipmentItem"]
    ids = [dispatch["id"], course["id"], item["id"]]
    counts = "{ expertDispatches { totalCount } trainingCourses { totalCount } equipmentItems { totalCount } }"
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    for caller in (gql, outsider):
        data = await caller(counts)
        assert [data[k]["totalCount"] for k in data] == [0, 0, 0]
        assert (await caller(nodes, {"ids": ids}))["nodes"] == [None, None, None]
        assert (
            await names(caller, DISPATCHES, {"projectId": pid}, "expertDispatches", "purpose")
            == set()
        )
        # writing to it is as if it did not exist
        update = {"input": {"id": course["id"], "outcomeNotes": "x"}}
        assert codes((await outsider(UPDATE_COURSE, update))["updateTrainingCourse"]) == {
            ("id", "NOT_FOUND")
        }
    as_member = gql.as_(await make_token(AccountRole.RESEARCHER, researcher_id=member.id))
    for caller in (manager, as_member):
        data = await caller(counts)
        assert [data[k]["totalCount"] for k in data] == [1, 1, 1]
        assert (await caller(nodes, {"ids": ids}))["nodes"] == [{"id": i} for i in ids]
    nested = await as_member(
        f"""{{ node(id: "{pid}") {{ ... on Project {{
          expertDispatches {{ purpose }} trainingCourses {{ title }} equipment {{ item }} }} }} }}"""
    )
    assert nested["node"] == {
        "expertDispatches": [{"purpose": "hidden"}],
        "trainingCourses": [{"title": "hidden"}],
        "equipment": [{"item": "hidden"}],
    }
    # the PI of the proposal may add to it
    payload = (
        await as_member(
            ADD_PARTICIPANT,
            {
                "input": {
                    "courseId": course["id"],
                    "researcherId": gid("Researcher", member.id),
                    "institutionId": gid("Institution", partner.id),
                }
            },
        )
    )["addTrainingParticipant"]
    assert payload["errors"] == []


# ---- no N+1 --------------------------------------------------------------------------

NESTED = """{
  projects(first: 100) { nodes {
    title
    expertDispatches {
      purpose expert { nameEn } originCountry { name } hostInstitution { nameEn country { code } }
      theme { code } counterparts { nameEn affiliations { institution { nameEn } } }
      project { title }
    }
    trainingCourses {
      title hostCountry { name } hostInstitution { nameEn } project { title }
      participants { researcher { nameEn } institution { nameEn country { code } } }
    }
    equipment { item value recipientInstitution { nameEn } project { title } }
  } }
  expertDispatches(first: 100) { nodes { expert { nameEn } counterparts { nameEn } project { title } } }
  trainingCourses(first: 100) { nodes { participants { researcher { nameEn } } } }
  equipmentItems(first: 100) { nodes { recipientInstitution { nameEn } project { title } } }
}"""


async def add_cooperation(factory, manager, n: int) -> None:
    for _ in range(n):
        project = await factory.project(countries=("TH",))
        pid = gid("Project", project.id)
        jp = await factory.institution("JP")
        th = await factory.institution("TH")
        await factory.link(project.id, jp.id, InstitutionRole.JAPANESE_LEAD)
        await factory.link(project.id, th.id, InstitutionRole.PARTNER_LEAD)
        expert = await factory.researcher()
        counterpart = await factory.researcher()
        await affiliate(factory, counterpart, th)
        for _ in range(2):
            payload = (
                await manager(
                    CREATE_DISPATCH,
                    {
                        "input": {
                            "projectId": pid,
                            "expertId": gid("Researcher", expert.id),
                            "hostInstitutionId": gid("Institution", th.id),
                            "startDate": "2023-01-01",
                            "themeId": DISASTER,
                            "counterpartIds": [gid("Researcher", counterpart.id)],
                        }
                    },
                )
            )["createExpertDispatch"]
            assert payload["errors"] == []
            course = (
                await manager(
                    CREATE_COURSE,
                    {
                        "input": {
                            "projectId": pid,
                            "title": "course",
                            "courseType": "IN_COUNTRY",
                            "hostCountry": "TH",
                            "hostInstitutionId": gid("Institution", th.id),
                            "startDate": "2023-01-01",
                        }
                    },
                )
            )["createTrainingCourse"]["trainingCourse"]
            added = (
                await manager(
                    ADD_PARTICIPANT,
                    {
                        "input": {
                            "courseId": course["id"],
                            "researcherId": gid("Researcher", counterpart.id),
                            "institutionId": gid("Institution", th.id),
                        }
                    },
                )
            )["addTrainingParticipant"]
            assert added["errors"] == []
            item = (
                await manager(
                    CREATE_EQUIPMENT,
                    {
                        "input": {
                            "projectId": pid,
                            "item": "sensor",
                            "value": "10",
                            "currency": "USD",
                            "recipientInstitutionId": gid("Institution", th.id),
                        }
                    },
                )
            )["createEquipmentItem"]
            assert item["errors"] == []


async def test_statement_count_does_not_grow_with_cooperation_items(
    gql, make_token, factory, statements
):
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    # anonymous callers: the visibility rule is part of every statement
    counts = []
    for n in (1, 5):
        await add_cooperation(factory, manager, n)
        with statements.measure() as counter:
            data = await gql(NESTED)
        items = sum(len(p["expertDispatches"]) for p in data["projects"]["nodes"])
        counts.append((counter.count, items))
    (small, small_items), (large, large_items) = counts
    assert large_items == 6 * small_items
    assert len(data["expertDispatches"]["nodes"]) == large_items
    assert large == small, (small, large)
    print(f"statements per request: {small} ({small_items} and {large_items} dispatches)")
    assert small < 40
