"""themeStats, collaborationNetwork and activityTimeSeries on a small hand-built world,
checked number by number for callers who may see more or less of it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from server import analytics
from server.models import (
    Dataset,
    DatasetVersion,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    Indicator,
    IndicatorMeasurement,
    PdmElement,
    Project,
    TrainingCourse,
    TrainingParticipant,
    Upload,
)
from server.models.enums import (
    AccessLevel,
    AccountRole,
    CourseType,
    DacRating,
    EquipmentStatus,
    EvaluationKind,
    InstitutionRole,
    MemberRole,
    PdmLevel,
    ProjectPhase,
    UploadState,
    VersionState,
)
from tests.factories import gid

FIGURES = """
projects institutions japaneseInstitutions partnerInstitutions thirdCountryInstitutions
researchers expertDispatches expertPersonMonths expertsByOrigin { countryCode dispatches
personMonths } trainingParticipants equipmentValues { currency amount } equipmentValue indicators indicatorsOnTrack evaluations
ratings { criterion rating count } datasets versions bytesStored uploadsReady uploadsFailed
"""

THEME_STATS = f"""
query Stats($filter: StatsFilter) {{
  themeStats(filter: $filter) {{
    totals {{ {FIGURES} }}
    byTheme {{ theme {{ code }} figures {{ projects datasets }} }}
    byCountry {{ countryCode figures {{ projects datasets }} }}
    byPhase {{ phase figures {{ projects }} }}
    byYear {{ year figures {{ projects }} }}
    bySdg {{ sdg figures {{ projects }} }}
    matrix {{ theme {{ code }} countryCode projects datasets }}
  }}
}}
"""

NETWORK = """
query Net($filter: StatsFilter) {
  collaborationNetwork(filter: $filter) {
    nodes { id name countryCode side projects }
    edges { source target sharedProjects sharedDatasets japanPartner weight }
  }
}
"""

SERIES = """
query Series($filter: StatsFilter) {
  activityTimeSeries(filter: $filter) {
    theme { code } month projectsStarted datasetsPublished
  }
}
"""

NOW = dt.datetime(2024, 3, 10, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    j1: int
    p1: int
    p2: int
    t1: int
    r1: int
    a: int
    b: int
    c: int


def _dataset(project: int, owner: int, title: str, level: AccessLevel) -> Dataset:
    return Dataset(
        project_id=project,
        owner_institution_id=owner,
        title=title,
        keywords=[],
        licence="CC-BY-4.0",
        access_level=level,
    )


def _upload(version: DatasetVersion, state: UploadState, size: int) -> Upload:
    return Upload(
        version_id=version.id,
        filename=f"f{size}.csv",
        object_key=f"raw/{version.id}/{state.value}/{size}",
        declared_size=size,
        size=size if state == UploadState.READY else None,
        state=state,
    )


@pytest.fixture
async def world(factory: Any, sessions: Any) -> World:
    """Projects A (theme 2 under 1, TH, implementation, 2022) and B (theme 3 under 1, ID,
    completed, 2023) are public; C (theme 5, TH, requested, 2024) is a proposal."""
    j1 = (await factory.institution("JP", name_en="Kyoto Research Univ")).id
    p1 = (await factory.institution("TH", name_en="Chula Lab")).id
    p2 = (await factory.institution("ID", name_en="Gadjah Lab")).id
    t1 = (await factory.institution("PH", name_en="Manila Lab")).id
    r1, r2, r3 = [(await factory.researcher()).id for _ in range(3)]
    a = await factory.project(theme_ids=(2,), countries=("TH",), start=dt.date(2022, 4, 1))
    b = await factory.project(
        phase=ProjectPhase.COMPLETED,
        theme_ids=(3,),
        countries=("ID",),
        start=dt.date(2023, 1, 15),
        end=dt.date(2023, 12, 31),
    )
    c = await factory.project(
        phase=ProjectPhase.REQUESTED, theme_ids=(5,), countries=("TH",), start=dt.date(2024, 2, 1)
    )
    for project, inst, role in [
        (a.id, j1, InstitutionRole.JAPANESE_LEAD),
        (a.id, p1, InstitutionRole.PARTNER_LEAD),
        (b.id, j1, InstitutionRole.JAPANESE_LEAD),
        (b.id, p2, InstitutionRole.PARTNER_PARTICIPANT),
        (b.id, t1, InstitutionRole.THIRD_COUNTRY),
        (c.id, j1, InstitutionRole.JAPANESE_LEAD),
        (c.id, p1, InstitutionRole.PARTNER_LEAD),
    ]:
        await factory.link(project, inst, role)
    for project, researcher in [(a.id, r1), (a.id, r2), (b.id, r2), (b.id, r3)]:
        await factory.member(project, researcher, MemberRole.MEMBER)
    async with sessions() as s:
        s.add_all(
            [
                ExpertDispatch(
                    project_id=a.id,
                    expert_id=r2,
                    origin_country="JP",
                    host_institution_id=p1,
                    start_date=dt.date(2022, 5, 1),
                    end_date=dt.date(2022, 6, 30),
                ),
                ExpertDispatch(
                    project_id=b.id,
                    expert_id=r2,
                    origin_country="JP",
                    host_institution_id=p2,
                    start_date=dt.date(2023, 2, 1),
                    end_date=dt.date(2023, 3, 3),
                ),
                ExpertDispatch(
                    project_id=b.id,
                    expert_id=r3,
                    origin_country="US",
                    host_institution_id=p2,
                    start_date=dt.date(2023, 2, 1),
                    end_date=dt.date(2023, 2, 16),
                ),
                ExpertDispatch(  # of the proposal: counts for staff only
                    project_id=c.id,
                    expert_id=r3,
                    origin_country="JP",
                    host_institution_id=p1,
                    start_date=dt.date(2024, 2, 1),
                    end_date=dt.date(2024, 3, 2),
                ),
                EquipmentItem(
                    project_id=a.id,
                    item="Seismometer",
                    quantity=2,
                    value=Decimal("1000.50"),
                    currency="JPY",
                    recipient_institution_id=p1,
                    status=EquipmentStatus.IN_USE,
                ),
                EquipmentItem(
                    project_id=a.id,
                    item="Data logger",
                    quantity=1,
                    value=Decimal("2500000"),
                    currency="LAK",
                    recipient_institution_id=p1,
                    status=EquipmentStatus.DELIVERED,
                ),
                EquipmentItem(
                    project_id=b.id,
                    item="Sampler",
                    quantity=1,
                    value=Decimal("200"),
                    currency="JPY",
                    recipient_institution_id=p2,
                    status=EquipmentStatus.DELIVERED,
                ),
                Evaluation(
                    project_id=b.id,
                    kind=EvaluationKind.TERMINAL,
                    evaluated_on=dt.date(2024, 1, 10),
                    relevance=DacRating.A,
                    effectiveness=DacRating.B,
                ),
            ]
        )
        course = TrainingCourse(
            project_id=a.id,
            title="Field survey",
            course_type=CourseType.IN_COUNTRY,
            host_country="TH",
            start_date=dt.date(2023, 1, 1),
        )
        element = PdmElement(project_id=a.id, level=PdmLevel.OUTPUT, description="Output 1")
        s.add_all([course, element])
        await s.flush()
        s.add_all(
            [
                TrainingParticipant(course_id=course.id, researcher_id=r1, institution_id=p1),
                TrainingParticipant(course_id=course.id, researcher_id=r3, institution_id=p1),
            ]
        )
        good = Indicator(element_id=element.id, description="g", unit="%", baseline=0, target=100)
        late = Indicator(element_id=element.id, description="l", unit="%", baseline=0, target=100)
        s.add_all([good, late])
        await s.flush()
        when = dt.date(2024, 10, 1)  # half-way through A (2022-04 .. 2027-03)
        s.add_all(
            [
                IndicatorMeasurement(indicator_id=good.id, measured_on=when, value=60, unit="%"),
                IndicatorMeasurement(indicator_id=late.id, measured_on=when, value=10, unit="%"),
            ]
        )
        d1 = _dataset(a.id, j1, "Public rainfall", AccessLevel.PUBLIC)
        d2 = _dataset(a.id, p1, "Institution soil", AccessLevel.INSTITUTION)
        d3 = _dataset(b.id, j1, "Project sediments", AccessLevel.PROJECT)
        s.add_all([d1, d2, d3])
        await s.flush()
        v1 = DatasetVersion(
            dataset_id=d1.id, number=1, state=VersionState.PUBLISHED, published_at=NOW
        )
        v2 = DatasetVersion(dataset_id=d2.id, number=1, state=VersionState.DRAFT)
        v3 = DatasetVersion(
            dataset_id=d3.id, number=1, state=VersionState.PUBLISHED, published_at=NOW
        )
        s.add_all([v1, v2, v3])
        await s.flush()
        s.add_all(
            [
                _upload(v1, UploadState.READY, 100),
                _upload(v1, UploadState.FAILED, 7),
                _upload(v2, UploadState.READY, 50),
                _upload(v3, UploadState.READY, 1000),
            ]
        )
        await s.flush()
        await analytics.refresh_stats(s)  # what the worker cron does
        await s.commit()
    return World(j1, p1, p2, t1, r1, a.id, b.id, c.id)


def _by(rows: list[dict[str, Any]], key: str, value: str = "projects") -> dict[Any, Any]:
    out = {}
    for row in rows:
        k = row[key]["code"] if isinstance(row[key], dict) else row[key]
        out[k] = row["figures"][value] if "figures" in row else row[value]
    return out


async def test_anonymous_sees_public_projects_and_public_datasets_only(gql: Any, world: World):
    stats = (await gql(THEME_STATS))["themeStats"]
    assert stats["totals"] == {
        "projects": 2,
        "institutions": 4,
        "japaneseInstitutions": 1,
        "partnerInstitutions": 2,
        "thirdCountryInstitutions": 1,
        "researchers": 3,
        "expertDispatches": 3,
        "expertPersonMonths": 3.5,  # (60 + 30 + 15) days / 30
        "expertsByOrigin": [
            {"countryCode": "JP", "dispatches": 2, "personMonths": 3.0},
            {"countryCode": "US", "dispatches": 1, "personMonths": 0.5},
        ],
        "trainingParticipants": 2,
        "equipmentValues": [  # per currency, never added together
            {"currency": "JPY", "amount": "1200.50"},
            {"currency": "LAK", "amount": "2500000.00"},
        ],
        "equipmentValue": None,  # deprecated: null when currencies are mixed
        "indicators": 2,
        "indicatorsOnTrack": 1,
        "evaluations": 1,
        "ratings": [
            {"criterion": "effectiveness", "rating": "B", "count": 1},
            {"criterion": "relevance", "rating": "A", "count": 1},
        ],
        "datasets": 1,
        "versions": 1,
        "bytesStored": 100,
        "uploadsReady": 1,
        "uploadsFailed": 1,
    }
    # the parent theme rolls up its sub-themes; the proposal's theme does not appear
    assert _by(stats["byTheme"], "theme") == {
        "environment-energy": 2,
        "global-environment": 1,
        "carbon-neutral-energy": 1,
    }
    assert _by(stats["byTheme"], "theme", "datasets") == {
        "environment-energy": 1,
        "global-environment": 1,
        "carbon-neutral-energy": 0,
    }
    assert _by(stats["byCountry"], "countryCode") == {"ID": 1, "TH": 1}
    assert _by(stats["byPhase"], "phase") == {"IMPLEMENTATION": 1, "COMPLETED": 1}
    assert _by(stats["byYear"], "year") == {2022: 1, 2023: 1}
    sdgs = _by(stats["bySdg"], "sdg")
    assert sdgs[6] == 2 and sdgs[9] == 1 and sdgs[13] == 2 and 1 not in sdgs
    assert {
        (c["theme"]["code"], c["countryCode"]): (c["projects"], c["datasets"])
        for c in stats["matrix"]
    } == {
        ("environment-energy", "TH"): (1, 1),
        ("environment-energy", "ID"): (1, 0),
        ("global-environment", "TH"): (1, 1),
        ("carbon-neutral-energy", "ID"): (1, 0),
    }


async def test_program_manager_counts_everything(gql: Any, world: World, make_token: Any):
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    totals = (await gql.as_(token)(THEME_STATS))["themeStats"]["totals"]
    assert (totals["projects"], totals["expertDispatches"]) == (3, 4)
    assert (totals["datasets"], totals["versions"], totals["bytesStored"]) == (3, 3, 1150)
    assert (totals["uploadsReady"], totals["uploadsFailed"]) == (3, 1)


@pytest.mark.parametrize(
    ("role", "who", "datasets", "projects"),
    [
        (AccountRole.RESEARCHER, "r1", 1, 2),  # member of A: d2 is the institution's own
        (AccountRole.INSTITUTION_UPLOADER, "p1", 2, 3),  # owns d2; named in proposal C
        (AccountRole.INSTITUTION_UPLOADER, "j1", 2, 3),  # owns d1 and d3
    ],
)
async def test_restricted_datasets_count_for_those_who_may_see_them(
    gql: Any,
    world: World,
    make_token: Any,
    role: AccountRole,
    who: str,
    datasets: int,
    projects: int,
):
    kwargs = {"researcher_id": world.r1} if who == "r1" else {"institution_id": getattr(world, who)}
    token = await make_token(role, **kwargs)
    totals = (await gql.as_(token)(THEME_STATS))["themeStats"]["totals"]
    assert (totals["datasets"], totals["projects"]) == (datasets, projects)


@pytest.mark.parametrize(
    ("flt", "projects", "datasets"),
    [
        ({"countries": ["th"]}, 1, 1),
        ({"countries": ["ID"]}, 1, 0),
        ({"themes": [gid("Theme", 1)]}, 2, 1),
        ({"themes": [gid("Theme", 3)]}, 1, 0),
        ({"phases": ["COMPLETED"]}, 1, 0),
        ({"years": [2022]}, 1, 1),
        ({"years": [2022, 2023], "countries": ["TH", "ID"]}, 2, 1),
        ({"themes": [gid("Theme", 5)]}, 0, 0),  # only the proposal: nothing to the public
    ],
)
async def test_filters(gql: Any, world: World, flt: dict[str, Any], projects: int, datasets: int):
    totals = (await gql(THEME_STATS, {"filter": flt}))["themeStats"]["totals"]
    assert (totals["projects"], totals["datasets"]) == (projects, datasets)


@pytest.mark.parametrize(
    ("flt", "field"),
    [
        ({"countries": ["THA"]}, "countries"),
        ({"years": [12]}, "years"),
        ({"themes": [gid("Project", 1)]}, "filter.themes"),
        ({"countries": ["TH"] * 101}, "countries"),
    ],
)
async def test_bad_filters_are_clear_errors(
    gql: Any, world: World, flt: dict[str, Any], field: str
):
    errors = await gql.errors(THEME_STATS, {"filter": flt})
    assert errors[0]["extensions"]["code"] in {"INVALID_FILTER", "INVALID_ID"}
    assert field in str(errors[0])


async def test_network_nodes_edges_and_sides(gql: Any, world: World, make_token: Any):
    net = (await gql(NETWORK))["collaborationNetwork"]
    sides = {n["name"]: (n["side"], n["projects"]) for n in net["nodes"]}
    assert sides == {
        "Kyoto Research Univ": ("JAPAN", 2),
        "Chula Lab": ("PARTNER", 1),
        "Gadjah Lab": ("PARTNER", 1),
        "Manila Lab": ("THIRD_COUNTRY", 1),
    }
    ids = {n["id"]: n["name"] for n in net["nodes"]}
    edges = {
        frozenset((ids[e["source"]], ids[e["target"]])): (
            e["sharedProjects"],
            e["sharedDatasets"],
            e["japanPartner"],
        )
        for e in net["edges"]
    }
    assert edges == {
        frozenset(("Kyoto Research Univ", "Chula Lab")): (1, 1, True),
        frozenset(("Kyoto Research Univ", "Gadjah Lab")): (1, 0, True),
        frozenset(("Kyoto Research Univ", "Manila Lab")): (1, 0, False),
        frozenset(("Gadjah Lab", "Manila Lab")): (1, 0, False),
    }
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    staff = (await gql.as_(token)(NETWORK, {"filter": {"countries": ["TH"]}}))[
        "collaborationNetwork"
    ]
    assert [(e["sharedProjects"], e["sharedDatasets"], e["weight"]) for e in staff["edges"]] == [
        (2, 2, 4)  # A and C; d1 and d2
    ]


async def test_activity_time_series(gql: Any, world: World, make_token: Any):
    points = (await gql(SERIES))["activityTimeSeries"]
    got = {
        (p["theme"]["code"], p["month"]): (p["projectsStarted"], p["datasetsPublished"])
        for p in points
    }
    assert got == {
        ("environment-energy", "2022-04-01"): (1, 0),
        ("global-environment", "2022-04-01"): (1, 0),
        ("environment-energy", "2023-01-01"): (1, 0),
        ("carbon-neutral-energy", "2023-01-01"): (1, 0),
        ("environment-energy", "2024-03-01"): (0, 1),  # d1; d3 is project-only
        ("global-environment", "2024-03-01"): (0, 1),
    }
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    staff = (await gql.as_(token)(SERIES, {"filter": {"themes": [gid("Theme", 3)]}}))[
        "activityTimeSeries"
    ]
    staff_got = {
        (p["theme"]["code"], p["month"], p["projectsStarted"], p["datasetsPublished"])
        for p in staff
    }
    assert staff_got == {  # B under its theme and the parent; d3 counts for staff
        ("carbon-neutral-energy", "2023-01-01", 1, 0),
        ("environment-energy", "2023-01-01", 1, 0),
        ("carbon-neutral-energy", "2024-03-01", 0, 1),
        ("environment-energy", "2024-03-01", 0, 1),
    }


async def test_visibility_is_live_between_refreshes(
    gql: Any, world: World, sessions: Any, make_token: Any
):
    """The materialised figures may lag; who may see what never does."""
    async with sessions() as s:
        d1 = await s.scalar(select(Dataset).where(Dataset.title == "Public rainfall"))
        d1.access_level = AccessLevel.INSTITUTION
        s.add(_dataset(world.b, world.j1, "New public", AccessLevel.PUBLIC))
        await s.commit()
    totals = (await gql(THEME_STATS))["themeStats"]["totals"]
    assert (totals["datasets"], totals["versions"], totals["bytesStored"]) == (1, 0, 0)
    token = await make_token(AccountRole.PROGRAM_MANAGER)
    stale = await gql.as_(token)("{ themeStats { refreshedAt totals { datasets } } }")
    assert stale["themeStats"]["totals"]["datasets"] == 3  # until the next refresh
    async with sessions() as s:
        await analytics.refresh_stats(s)
        await s.commit()
    fresh = await gql.as_(token)("{ themeStats { refreshedAt totals { datasets } } }")
    assert fresh["themeStats"]["totals"]["datasets"] == 4
    assert fresh["themeStats"]["refreshedAt"] >= stale["themeStats"]["refreshedAt"]


async def test_network_edge_cap(gql: Any, world: World):
    errors = await gql.errors("{ collaborationNetwork(maxEdges: 100000) { edges { weight } } }")
    assert errors[0]["extensions"]["code"] == "INVALID_PAGE_SIZE"
    net = await gql("{ collaborationNetwork(maxEdges: 1) { edges { weight } } }")
    assert len(net["collaborationNetwork"]["edges"]) == 1


def test_filter_normalises_countries():
    flt = analytics.check_filter(analytics.StatsFilter(countries=[" th "]))
    assert flt.countries == ["TH"]


async def test_staff_cube_answers_as_the_live_queries(gql: Any, world: World, make_token: Any):
    """Staff without a filter read the figures materialised at the refresh; a filter that
    keeps every project runs the live queries: both agree on a world not changed since."""
    staff = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    everything = {"years": [2022, 2023, 2024]}
    assert (await staff(THEME_STATS))["themeStats"] == (
        await staff(THEME_STATS, {"filter": everything})
    )["themeStats"]
    assert (await staff(NETWORK))["collaborationNetwork"] == (
        await staff(NETWORK, {"filter": everything})
    )["collaborationNetwork"]


async def test_public_cube_answers_as_the_live_queries(gql: Any, world: World, make_token: Any):
    """The public without a filter reads the figures materialised at the refresh (its datasets
    summed live); a filter that keeps every project runs the live queries: both agree, for
    anonymous and for an account linked to no researcher and no institution."""
    everything = {"years": [2022, 2023, 2024]}
    unlinked = gql.as_(await make_token(AccountRole.RESEARCHER))
    for caller in (gql, unlinked):
        cube = (await caller(THEME_STATS))["themeStats"]
        assert cube["totals"]["projects"] == 2
        assert cube == (await caller(THEME_STATS, {"filter": everything}))["themeStats"]


async def test_public_cube_lags_figures_never_visibility(
    gql: Any, world: World, factory: Any, sessions: Any
):
    """A figure of a public project may lag until the next refresh (as the staff's cube);
    a project the public may newly see, or no longer see, counts (or stops counting) at once."""

    async def totals() -> tuple[int, int, int]:
        t = (await gql(THEME_STATS))["themeStats"]["totals"]
        return t["projects"], t["researchers"], t["expertDispatches"]

    newcomer = (await factory.researcher()).id
    await factory.member(world.a, newcomer, MemberRole.MEMBER)
    assert await totals() == (2, 3, 3)  # the cube, as of the refresh
    async with sessions() as s:
        (await s.get(Project, world.c)).phase = ProjectPhase.APPROVED
        await s.commit()
    assert await totals() == (3, 4, 4)  # live: C and the newcomer count at once
    async with sessions() as s:
        await analytics.refresh_stats(s)
        await s.commit()
    assert await totals() == (3, 4, 4)  # the cube again, now with C
    async with sessions() as s:
        (await s.get(Project, world.b)).phase = ProjectPhase.REQUESTED
        await s.commit()
    assert await totals() == (2, 3, 2)  # B is a proposal again: gone at once


EQUIPMENT = """query($filter: StatsFilter) { themeStats(filter: $filter) {
    totals { equipmentValues { currency amount } equipmentValue }
    byCountry { countryCode figures { equipmentValues { currency amount } equipmentValue } } }
  equipmentItems(first: 100) { nodes { value currency project { partnerCountries { code } } } }
}"""


def _sums(items: list[dict[str, Any]], value: str = "value") -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        sums[item["currency"]] += Decimal(item[value])
    return dict(sums)


async def test_equipment_value_per_currency_agrees_with_the_items(gql, world, make_token):
    """issue 18 item 14: the cube (staff, unfiltered), the live figures (a filter) and the
    items as the compiled read path lists them agree, currency by currency."""
    staff = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    for flt in (None, {"years": [2022, 2023, 2024]}):
        data = await staff(EQUIPMENT, {"filter": flt})
        items, stats = data["equipmentItems"]["nodes"], data["themeStats"]
        expected = {"JPY": Decimal("1200.50"), "LAK": Decimal("2500000")}
        assert _sums(stats["totals"]["equipmentValues"], "amount") == _sums(items) == expected
        assert stats["totals"]["equipmentValue"] is None
        for row in stats["byCountry"]:
            mine = [
                i for i in items if {"code": row["countryCode"]} in i["project"]["partnerCountries"]
            ]
            assert _sums(row["figures"]["equipmentValues"], "amount") == _sums(mine)
    one = (await staff(EQUIPMENT, {"filter": {"countries": ["ID"]}}))["themeStats"]["totals"]
    assert one == {
        "equipmentValues": [{"currency": "JPY", "amount": "200.00"}],
        "equipmentValue": 200.0,
    }
