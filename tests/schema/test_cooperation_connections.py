"""Cooperation components read in bulk: the connections' filters and pages, the records of a
proposal hidden like the proposal, and a statement count that does not grow with them."""

from __future__ import annotations

import datetime as dt

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
    affiliate,
    codes,
)

COURSES = """query($f: TrainingCourseFilter) {
  trainingCourses(filter: $f, first: 100) { totalCount nodes { title } } }"""
EQUIPMENT = """query($f: EquipmentItemFilter) {
  equipmentItems(filter: $f, first: 100) { totalCount nodes { item } } }"""
GLOBAL_ENV = gid("Theme", 2)
ENV_ROOT = gid("Theme", 1)


async def names(client, query: str, flt: dict | None, key: str, field: str) -> set[str]:
    data = (await client(query, {"f": flt}))[key]
    found = {n[field] for n in data["nodes"]}
    assert data["totalCount"] == len(found)
    return found


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
