"""Cooperation components: expert dispatch, technical training, equipment provision; each
written, read and validated. Their connections, filters, visibility and statement counts:
test_cooperation_connections.py."""

from __future__ import annotations

import datetime as dt

import pytest

from server.models.enums import AccountRole, InstitutionRole, MemberRole, ProjectPhase
from tests.factories import gid
from tests.fixtures.cooperation import (
    ADD_PARTICIPANT,
    CREATE_COURSE,
    CREATE_DISPATCH,
    CREATE_EQUIPMENT,
    DISASTER,
    DISPATCHES,
    UPDATE_COURSE,
    UPDATE_STATUS,
    affiliate,
    codes,
)


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
