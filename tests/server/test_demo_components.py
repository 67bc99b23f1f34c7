"""The demo research graph's technical cooperation (expert dispatches, training, equipment,
learning materials), its PDM and its M&E records: each consistent with its project's period,
countries, institutions and members."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pycountry
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from server.demo import LANGUAGE, REFERENCE_DATE, CooperationDraft, plan_demo, plan_scaled
from server.models import (
    Affiliation,
    DispatchCounterpart,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    FollowUpCooperation,
    Indicator,
    IndicatorMeasurement,
    Institution,
    JccMeeting,
    LearningMaterial,
    LessonLearned,
    MonitoringReport,
    PdmElement,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    TrainingCourse,
    TrainingParticipant,
)
from server.models.enums import (
    CourseType,
    DacRating,
    EquipmentStatus,
    EvaluationKind,
    InstitutionRole,
    MaterialKind,
    PdmLevel,
    ProjectPhase,
)
from tests.fixtures.demo_graph import STARTED, P, R, Sessions, by_project, count_rows

# the demo graph is loaded once per dialect for this module (`demo`, in
# tests/fixtures/demo_graph.py); every test runs in a savepoint inside its transaction


@pytest.fixture
async def connection(module_connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    savepoint = await module_connection.begin_nested()
    yield module_connection
    if savepoint.is_active:
        await savepoint.rollback()


# ---- cooperation, PDM and M&E ----------------------------------------------------------

PDM_PHASES = STARTED | {P.PLANNING}
DONE = {P.COMPLETED, P.FOLLOW_UP, P.EX_POST_EVALUATED}
PARTNER_ROLES = {R.PARTNER_LEAD, R.PARTNER_PARTICIPANT}
JAPANESE_ROLES = {R.JAPANESE_LEAD, R.JAPANESE_PARTICIPANT}
IN_JAPAN = {CourseType.GROUP_REGION_FOCUS, CourseType.COUNTRY_FOCUS, CourseType.YOUNG_LEADERS}
SPDX_CC = {
    "CC-BY-4.0",
    "CC-BY-SA-4.0",
    "CC-BY-ND-4.0",
    "CC-BY-NC-4.0",
    "CC-BY-NC-SA-4.0",
    "CC-BY-NC-ND-4.0",
    "CC0-1.0",
}
COOPERATION = {
    "expert_dispatches": ExpertDispatch,
    "dispatch_counterparts": DispatchCounterpart,
    "training_courses": TrainingCourse,
    "training_participants": TrainingParticipant,
    "equipment_items": EquipmentItem,
    "pdm_elements": PdmElement,
    "indicators": Indicator,
    "indicator_measurements": IndicatorMeasurement,
    "jcc_meetings": JccMeeting,
    "monitoring_reports": MonitoringReport,
    "evaluations": Evaluation,
    "lessons_learned": LessonLearned,
    "follow_up_cooperations": FollowUpCooperation,
    "learning_materials": LearningMaterial,
}


@dataclass
class Graph:
    """One project's context: its period, countries, institutions by role, members, themes."""

    project: Project
    partners: set[str]
    roles: dict[int, InstitutionRole]
    members: dict[int, set[int]]  # researcher -> institutions they take part for
    themes: set[int]
    history: list[ProjectPhase]

    def inside(self, *days: dt.date | None) -> bool:
        start, end = self.project.start_date, self.project.end_date
        return (
            start is not None
            and end is not None
            and all(d is not None and start <= d <= end for d in days)
        )

    def years_so_far(self) -> float:
        assert self.project.start_date and self.project.end_date
        until = min(self.project.end_date, REFERENCE_DATE)
        return (until - self.project.start_date).days / 365.25


async def _graphs(session: AsyncSession) -> tuple[dict[int, Graph], dict[int, str], Any]:
    """Per project context, each institution's country, and researcher -> affiliations."""
    countries = await by_project(session, ProjectCountry, ProjectCountry.country_code)
    links = await by_project(session, ProjectInstitution, ProjectInstitution.id)
    members = await by_project(session, ProjectMember, ProjectMember.id)
    themes = await by_project(session, ProjectTheme, ProjectTheme.theme_id)
    history = await by_project(session, PhaseTransition, PhaseTransition.id)
    graphs = {}
    for project in await session.scalars(select(Project)):
        people: dict[int, set[int]] = defaultdict(set)
        for m in members[project.id]:
            people[m.researcher_id].add(m.institution_id)
        graphs[project.id] = Graph(
            project,
            {c.country_code for c in countries[project.id]},
            {link.institution_id: link.role for link in links[project.id]},
            dict(people),
            {t.theme_id for t in themes[project.id]},
            [s.to_phase for s in history[project.id]],
        )
    where = dict((await session.execute(select(Institution.id, Institution.country_code))).all())
    affiliated: dict[int, set[int]] = defaultdict(set)
    for a in await session.scalars(select(Affiliation)):
        affiliated[a.researcher_id].add(a.institution_id)
    return graphs, where, affiliated


async def _all(session: AsyncSession, model: type[Any]) -> list[Any]:
    return list(await session.scalars(select(model).order_by(*model.__table__.primary_key)))


def test_cooperation_plans_are_deterministic_and_demo_only() -> None:
    first, second = plan_demo(), plan_demo()
    assert [d.cooperation for d in first] == [d.cooperation for d in second]
    assert sum(len(d.cooperation.dispatches) for d in first) > 100
    _, scaled = plan_scaled(themes=2, projects_per_theme=3)
    assert all(d.cooperation == CooperationDraft() for d in scaled)


async def test_technical_cooperation_is_consistent(
    sessions: Sessions, demo: dict[str, int]
) -> None:
    async with sessions() as session:
        for name, model in COOPERATION.items():
            assert demo[name] == await count_rows(session, model) > 0, name
        graphs, where, affiliated = await _graphs(session)
        dispatches = await _all(session, ExpertDispatch)
        counterparts = await _grouped_by(session, DispatchCounterpart, "dispatch_id")
        courses = await _all(session, TrainingCourse)
        participants = await _grouped_by(session, TrainingParticipant, "course_id")
        equipment = await _all(session, EquipmentItem)
        materials = await _all(session, LearningMaterial)

    def partner_side(g: Graph, researcher_id: int, institution_id: int | None = None) -> bool:
        """A project member for a partner institution, affiliated with it."""
        mine = g.members.get(researcher_id, set())
        if institution_id is not None:
            mine = mine & {institution_id}
        return any(
            g.roles[i] in PARTNER_ROLES
            and where[i] in g.partners
            and i in affiliated[researcher_id]
            for i in mine
        )

    per_project: Counter[int] = Counter()
    for d in dispatches:
        g = graphs[d.project_id]
        per_project[d.project_id] += 1
        assert g.project.phase in STARTED, g.project.acronym
        assert g.inside(d.start_date, d.end_date) and d.start_date <= REFERENCE_DATE
        assert 14 <= (d.end_date - d.start_date).days <= 183
        assert g.roles.get(d.host_institution_id) in PARTNER_ROLES
        assert where[d.host_institution_id] in g.partners
        assert d.theme_id in g.themes
        expert_at = g.members[d.expert_id]  # the expert is a member of the project
        if d.origin_country == "JP":
            assert any(g.roles[i] in JAPANESE_ROLES for i in expert_at)
        else:
            assert d.origin_country not in g.partners
            assert any(
                g.roles[i] == R.THIRD_COUNTRY and where[i] == d.origin_country for i in expert_at
            )
        assert counterparts[d.id], "a dispatch without counterparts"
        assert all(partner_side(g, c.researcher_id) for c in counterparts[d.id])
    assert any(d.origin_country != "JP" for d in dispatches), "no third-country expert"
    for project_id, g in graphs.items():
        n = per_project[project_id]
        if g.project.phase in STARTED:  # 2-6 per project-year so far (at least 2)
            years = g.years_so_far()
            assert max(2, 2 * years - 1) <= n <= max(2, 6 * years + 1), g.project.acronym
        else:
            assert n == 0

    kinds: Counter[CourseType] = Counter()
    for c in courses:
        g = graphs[c.project_id]
        kinds[c.course_type] += 1
        assert g.project.phase in STARTED
        assert g.inside(c.start_date, c.end_date) and c.start_date <= REFERENCE_DATE
        assert (c.outcome_notes is not None) == (c.end_date < REFERENCE_DATE)
        host_role = g.roles.get(c.host_institution_id) if c.host_institution_id else None
        if c.host_institution_id is not None:
            assert where[c.host_institution_id] == c.host_country
        if c.course_type in IN_JAPAN:
            assert c.host_country == "JP" and host_role in JAPANESE_ROLES
        elif c.course_type == CourseType.THIRD_COUNTRY:
            assert c.host_country != "JP" and c.host_country not in g.partners
            assert host_role in (None, R.THIRD_COUNTRY)
        else:
            assert c.host_country in g.partners and host_role in PARTNER_ROLES
        assert participants[c.id], "a course without trainees"
        for t in participants[c.id]:
            assert g.roles.get(t.institution_id) in PARTNER_ROLES
            assert partner_side(g, t.researcher_id, t.institution_id), c.title
    assert set(kinds) == set(CourseType)
    assert kinds[CourseType.IN_COUNTRY] > kinds[CourseType.THIRD_COUNTRY]

    currencies: Counter[str] = Counter()
    statuses: Counter[EquipmentStatus] = Counter()
    for e in equipment:
        g = graphs[e.project_id]
        assert g.project.phase in STARTED
        assert e.item and e.category and e.quantity > 0 and e.value is not None and e.value >= 0
        assert e.currency and pycountry.currencies.get(alpha_3=e.currency), e.currency
        assert g.roles.get(e.recipient_institution_id) in PARTNER_ROLES
        assert where[e.recipient_institution_id] in g.partners
        assert g.inside(e.delivery_date)
        age = (REFERENCE_DATE - e.delivery_date).days
        assert (e.status == EquipmentStatus.ORDERED) == (age < 0), (e.item, e.status)
        if e.status == EquipmentStatus.ORDERED:
            assert g.project.phase == P.IMPLEMENTATION and age > -200
        if e.status == EquipmentStatus.DELIVERED:
            assert age <= 90
        if e.status == EquipmentStatus.OUT_OF_SERVICE:
            assert age > 2 * 365
        currencies[e.currency] += 1
        statuses[e.status] += 1
    assert currencies.most_common(1)[0][0] == "JPY"
    assert currencies["USD"] and set(currencies) - {"JPY", "USD"}, "no local currency"
    assert {EquipmentStatus.ORDERED, EquipmentStatus.IN_USE} <= set(statuses)
    with_equipment = {e.project_id for e in equipment}
    assert with_equipment == {p for p, g in graphs.items() if g.project.phase in STARTED}

    per_material: Counter[int] = Counter()
    for m in materials:
        g = graphs[m.project_id]
        per_material[m.project_id] += 1
        assert g.project.phase in STARTED and m.title and m.audience
        assert m.kind in set(MaterialKind)
        assert pycountry.languages.get(alpha_2=m.language), m.language
        assert m.language in {"en", "ja", *(LANGUAGE[c] for c in g.partners)}
        assert m.licence in SPDX_CC
        assert m.url is None or m.url.startswith("https://example.org/")
    assert max(per_material.values()) <= 3


async def _grouped_by(session: AsyncSession, model: type[Any], key: str) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in await _all(session, model):
        grouped[getattr(row, key)].append(row)
    return grouped


async def test_pdm_and_evaluation_are_consistent(sessions: Sessions, demo: dict[str, int]) -> None:
    async with sessions() as session:
        graphs, _, _ = await _graphs(session)
        elements = await by_project(session, PdmElement, PdmElement.id)
        indicators = await _grouped_by(session, Indicator, "element_id")
        measurements = await _grouped_by(session, IndicatorMeasurement, "indicator_id")
        meetings = await by_project(session, JccMeeting, JccMeeting.held_on)
        reports = await by_project(session, MonitoringReport, MonitoringReport.period_start)
        evaluations = await by_project(session, Evaluation, Evaluation.id)
        lessons = await _grouped_by(session, LessonLearned, "evaluation_id")
        follow_ups = await by_project(session, FollowUpCooperation, FollowUpCooperation.id)

    for project_id, g in graphs.items():
        p, name = g.project, g.project.acronym
        rows = elements[project_id]
        by_level = defaultdict(list)
        for row in rows:
            by_level[row.level].append(row)
        if p.phase not in PDM_PHASES:
            assert not rows and not evaluations[project_id], name
            assert not meetings[project_id] and not reports[project_id], name
            continue
        # PDM: one goal, one purpose, 3-5 outputs under it, 2-4 activities under each output
        assert len(by_level[PdmLevel.OVERALL_GOAL]) == len(by_level[PdmLevel.PROJECT_PURPOSE]) == 1
        goal, purpose = by_level[PdmLevel.OVERALL_GOAL][0], by_level[PdmLevel.PROJECT_PURPOSE][0]
        assert goal.parent_id is None and purpose.parent_id is None
        outputs = by_level[PdmLevel.OUTPUT]
        assert 3 <= len(outputs) <= 5 and all(o.parent_id == purpose.id for o in outputs)
        output_ids = {o.id for o in outputs}
        under: Counter[int] = Counter()
        for activity in by_level[PdmLevel.ACTIVITY]:
            assert activity.parent_id in output_ids, name
            under[activity.parent_id] += 1
        assert all(2 <= under[o] <= 4 for o in output_ids), name
        for element in rows:
            found = indicators.get(element.id, [])
            if element.level == PdmLevel.ACTIVITY:
                assert not found
                continue
            assert 1 <= len(found) <= 2, name
            for indicator in found:
                assert indicator.unit and indicator.description
                assert indicator.baseline is not None and indicator.target is not None
                assert indicator.baseline != indicator.target
                low, high = sorted((indicator.baseline, indicator.target))
                series = measurements.get(indicator.id, [])
                if p.phase not in STARTED:
                    assert not series, name
                elif element.level == PdmLevel.PROJECT_PURPOSE and g.years_so_far() >= 1:
                    assert len(series) >= 2, name
                progress = [abs(m.value - indicator.baseline) for m in series]
                assert progress == sorted(progress), "measurements move away from the target"
                for m in series:
                    assert m.unit == indicator.unit
                    assert g.inside(m.measured_on) and m.measured_on <= REFERENCE_DATE
                    assert low <= m.value <= high, name

        # M&E
        kinds = Counter(e.kind for e in evaluations[project_id])
        assert kinds[EvaluationKind.EX_ANTE] == 1
        assert kinds[EvaluationKind.TERMINAL] == (p.phase in DONE), name
        assert kinds[EvaluationKind.EX_POST] == (p.phase == P.EX_POST_EVALUATED), name
        if p.phase in DONE:
            assert kinds[EvaluationKind.MID_TERM_REVIEW] == 1, name
        assert p.start_date and p.end_date
        months = (p.end_date.year - p.start_date.year) * 12 + p.end_date.month - p.start_date.month
        midway = _months_later(p.start_date, (months + 1) // 2)
        for e in evaluations[project_id]:
            assert e.evaluated_on <= REFERENCE_DATE and e.summary and e.document_ref
            ratings = [getattr(e, c) for c in DAC]
            if e.kind == EvaluationKind.EX_ANTE:
                assert e.evaluated_on < p.start_date
            elif e.kind == EvaluationKind.MID_TERM_REVIEW:
                assert p.phase in STARTED and midway <= e.evaluated_on <= p.end_date
            elif e.kind == EvaluationKind.TERMINAL:
                assert g.inside(e.evaluated_on) and e.evaluated_on >= midway
            else:
                assert p.phase == P.EX_POST_EVALUATED
                assert e.evaluated_on >= _years_later(p.end_date, 2), name
                assert all(r in set(DacRating) for r in ratings), "ex-post needs six ratings"
            if e.kind != EvaluationKind.EX_POST:
                assert ratings == [None] * 6
            texts = lessons.get(e.id, [])
            if e.kind in (EvaluationKind.TERMINAL, EvaluationKind.EX_POST):
                assert 1 <= len(texts) <= 3 and all(t.project_id == project_id for t in texts)
            else:
                assert not texts

        held = [m.held_on for m in meetings[project_id]]
        reported = reports[project_id]
        follow = follow_ups[project_id]
        if p.phase not in STARTED:
            assert not held and not reported and not follow, name
            continue
        assert all(g.inside(d) and d <= REFERENCE_DATE for d in held)
        assert abs(len(held) - g.years_so_far()) <= 1.5, name  # roughly yearly
        for before, after in itertools.pairwise(reported):
            assert after.period_start == before.period_end + dt.timedelta(days=1)
        for r in reported:
            assert g.inside(r.period_start, r.period_end)
            assert r.period_end <= r.submitted_on <= REFERENCE_DATE
            assert 178 <= (r.period_end - r.period_start).days <= 185
        if p.phase in DONE:
            assert len(reported) == (months + 1) // 6, name
        assert len(follow) == (P.FOLLOW_UP in g.history), name
        for f in follow:
            assert f.start_date >= p.end_date and (f.end_date is None or f.end_date >= f.start_date)
            assert f.description


DAC = ("relevance", "coherence", "effectiveness", "impact", "efficiency", "sustainability")


def _months_later(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _years_later(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
