"""A project's cooperation records, planned once the project itself is drafted:
dispatches, training, equipment, its PDM, monitoring and evaluation, materials.

Planned after every project (same RNG, so the projects themselves do not change), only
for the demo graph: `plan_scaled` and `seed_scaled` leave these tables empty.

Proportions, by phase:
- planning onwards (not withdrawn): a PDM (goal, purpose, 3-5 outputs of 2-4 activities,
  1-2 indicators per goal, purpose and output) and an ex-ante evaluation;
- implementation onwards: 2-6 expert dispatches and about one or two training courses per
  project-year so far, equipment, JCC meetings (yearly), monitoring reports (six-monthly),
  indicator measurements (baseline survey, then yearly), 0-3 learning materials, a
  mid-term review once past mid-term, and two to four junior counterparts as trainees;
- completed onwards: a terminal evaluation with lessons; follow-up cooperation when the
  history went through follow_up; an ex-post evaluation (six DAC ratings, lessons) in
  ex_post_evaluated, three years after the end date.
Nothing is dated after REFERENCE_DATE except planned deliveries (status `ordered`),
dispatches or courses under way, and a follow-up's planned end.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal

from server.demo.drafts import (
    CooperationDraft,
    CourseDraft,
    DispatchDraft,
    ElementDraft,
    EquipmentDraft,
    EvaluationDraft,
    FollowUpDraft,
    IndicatorDraft,
    MaterialDraft,
    MeetingDraft,
    PersonDraft,
    ProjectDraft,
    ReportDraft,
)
from server.demo.loader import (
    COURSE_OUTCOMES,
    CURRENCY,
    DISPATCH_PURPOSES,
    EVALUATION_TEXT,
    FIELDS,
    FOLLOW_UPS,
    GENERIC_OUTPUTS,
    INSTITUTION_BY_KEY,
    JCC_DECISIONS,
    LANGUAGE,
    LESSONS,
    LICENCES,
    REGION,
    REPORT_SUMMARIES,
    YEN_PER_UNIT,
    ZERO_DECIMAL_CURRENCIES,
    FieldSpec,
    IndicatorSpec,
)
from server.demo.planner import (
    REFERENCE_DATE,
    STARTED_PHASES,
    Planner,
    add_months,
    country_name,
    ordinal,
)
from server.models.enums import (
    CourseType,
    DacRating,
    EquipmentStatus,
    EvaluationKind,
    InstitutionRole,
    MaterialKind,
    MemberRole,
    PdmLevel,
    ProjectPhase,
)

P = ProjectPhase
R = InstitutionRole

PDM_PHASES = frozenset({P.PLANNING, *STARTED_PHASES})
DAC_CRITERIA = ("relevance", "coherence", "effectiveness", "impact", "efficiency", "sustainability")
JAPAN_COURSES = (CourseType.GROUP_REGION_FOCUS, CourseType.COUNTRY_FOCUS, CourseType.YOUNG_LEADERS)


def _months_between(start: dt.date, end: dt.date) -> int:
    """Whole months of a period that starts on the 1st and ends on a month's last day."""
    return (end.year * 12 + end.month) - (start.year * 12 + start.month) + 1


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


class CooperationPlanner:
    """Plans a project's cooperation records once the project itself is drafted."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner
        self.rng = planner.rng

    def plan(self, draft: ProjectDraft) -> CooperationDraft:
        coop = CooperationDraft()
        fld = FIELDS.get(draft.theme)
        if fld is None or draft.phase not in PDM_PHASES or draft.start_date is None:
            return coop
        assert draft.end_date is not None
        steps = {s.to_phase: s.at.date() for s in draft.history}
        coop.evaluations.append(self._ex_ante(draft, steps[P.PLANNING]))
        started = draft.phase in STARTED_PHASES
        if started:
            self._add_juniors(draft)
        coop.pdm = self._pdm(draft, fld, measured=started)
        if not started:
            return coop
        coop.dispatches = self._dispatches(draft, fld)
        coop.courses = self._courses(draft, fld)
        coop.equipment = self._equipment(draft, fld)
        coop.meetings = self._meetings(draft)
        coop.reports = self._reports(draft)
        coop.evaluations += self._evaluations(draft, steps)
        if P.FOLLOW_UP in steps:
            start = steps[P.FOLLOW_UP]
            end = add_months(start, self.rng.choice((12, 24, 36))) - dt.timedelta(days=1)
            coop.follow_ups.append(FollowUpDraft(start, end, self.rng.choice(FOLLOW_UPS)))
        coop.materials = self._materials(draft, fld)
        return coop

    # -- who -----------------------------------------------------------------------------

    def _country(self, person: PersonDraft) -> str:
        return INSTITUTION_BY_KEY[person.institution].country

    def _people(self, draft: ProjectDraft) -> list[PersonDraft]:
        return list(dict.fromkeys(p for p, _ in draft.members))

    def _japanese(self, draft: ProjectDraft) -> list[PersonDraft]:
        return [p for p in self._people(draft) if self._country(p) == "JP"]

    def _third(self, draft: ProjectDraft) -> list[PersonDraft]:
        return [
            p
            for p in self._people(draft)
            if self._country(p) != "JP" and self._country(p) not in draft.countries
        ]

    def _partner_side(self, draft: ProjectDraft) -> list[PersonDraft]:
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        return [p for p in self._people(draft) if p.institution in partners]

    @staticmethod
    def _institutions(draft: ProjectDraft, *roles: InstitutionRole) -> list[str]:
        return [key for key, role in draft.institutions if role in roles]

    def _add_juniors(self, draft: ProjectDraft) -> None:
        """Young partner researchers join as counterparts: the trainees of the project."""
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        for _ in range(self.rng.randint(2, 4)):
            taken = {p for p, _ in draft.members}
            person = self.planner.person(self.rng.choice(partners), senior=False, exclude=taken)
            draft.members.append((person, MemberRole.COUNTERPART))

    # -- when ----------------------------------------------------------------------------

    def _within(self, draft: ProjectDraft, days: int) -> tuple[dt.date, dt.date]:
        """A `days`-long stretch inside the project period, starting by REFERENCE_DATE."""
        assert draft.start_date is not None and draft.end_date is not None
        latest = min(REFERENCE_DATE, draft.end_date - dt.timedelta(days=days))
        span = max(0, (latest - draft.start_date).days)
        begin = draft.start_date + dt.timedelta(days=self.rng.randint(0, span))
        return begin, begin + dt.timedelta(days=days)

    @staticmethod
    def _years_so_far(draft: ProjectDraft) -> float:
        assert draft.start_date is not None and draft.end_date is not None
        until = min(draft.end_date, REFERENCE_DATE)
        return max(0.25, (until - draft.start_date).days / 365.25)

    # -- technical cooperation -----------------------------------------------------------

    def _dispatches(self, draft: ProjectDraft, fld: FieldSpec) -> list[DispatchDraft]:
        rng = self.rng
        japanese, third = self._japanese(draft), self._third(draft)
        partner_side = self._partner_side(draft)
        hosts = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        dispatches = []
        for _ in range(max(2, round(self._years_so_far(draft) * rng.uniform(2, 6)))):
            if third and rng.random() < 0.12:
                expert = rng.choice(third)
                origin = self._country(expert)
            else:
                expert, origin = rng.choice(japanese), "JP"
            host = rng.choice(hosts)
            days = rng.choice(
                (
                    rng.randint(14, 45),
                    rng.randint(14, 45),
                    rng.randint(46, 120),
                    rng.randint(121, 183),
                )
            )
            start, end = self._within(draft, days)
            local = [p for p in partner_side if p.institution == host] or partner_side
            counterparts = rng.sample(local, min(len(local), rng.randint(1, 3)))
            purpose = rng.choice(DISPATCH_PURPOSES).format(skill=rng.choice(fld.skills))
            dispatches.append(
                DispatchDraft(expert, origin, host, start, end, purpose, tuple(counterparts))
            )
        return sorted(dispatches, key=lambda d: (d.start, d.end))

    def _courses(self, draft: ProjectDraft, fld: FieldSpec) -> list[CourseDraft]:
        rng = self.rng
        japanese = self._institutions(draft, R.JAPANESE_LEAD, R.JAPANESE_PARTICIPANT)
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        third = self._institutions(draft, R.THIRD_COUNTRY)
        trainees = self._partner_side(draft)
        kinds = [*JAPAN_COURSES, CourseType.IN_COUNTRY]
        weights = [15, 20, 10, 45]
        if third:
            kinds.append(CourseType.THIRD_COUNTRY)
            weights.append(15)
        courses = []
        for _ in range(max(1, round(self._years_so_far(draft) * rng.uniform(0.8, 1.8)))):
            kind = rng.choices(kinds, weights)[0]
            skill = rng.choice(fld.skills)
            if kind in JAPAN_COURSES:
                host: str = rng.choice(japanese)
                days, seats = rng.randint(21, 70), rng.randint(1, 3)
                topic = rng.choice(fld.courses)
                title = {
                    CourseType.GROUP_REGION_FOCUS: f"Knowledge Co-Creation Program: {topic} "
                    f"for {REGION[draft.countries[0]]}",
                    CourseType.COUNTRY_FOCUS: f"Country-focused training in Japan: {topic} "
                    f"for {country_name(draft.countries[0])}",
                    CourseType.YOUNG_LEADERS: f"Young Leaders Program: {topic}",
                }[kind]
            elif kind == CourseType.THIRD_COUNTRY:
                host = rng.choice(third)
                days, seats = rng.randint(7, 21), rng.randint(1, 3)
                spec = INSTITUTION_BY_KEY[host]
                title = f"Third-country training at {spec.acronym or spec.name_en}: {skill}"
            else:
                host = rng.choice(partners)
                days, seats = rng.randint(3, 10), rng.randint(3, 8)
                title = f"In-country training on {skill}"
            host_country = INSTITUTION_BY_KEY[host].country
            start, end = self._within(draft, days)
            local = [p for p in trainees if self._country(p) == host_country] or trainees
            pool = local if kind == CourseType.IN_COUNTRY else trainees
            participants = rng.sample(pool, min(len(pool), seats))
            outcome = rng.choice(COURSE_OUTCOMES) if end < REFERENCE_DATE else None
            courses.append(
                CourseDraft(
                    title, kind, host, host_country, start, end, outcome, tuple(participants)
                )
            )
        return sorted(courses, key=lambda c: (c.start, c.end))

    def _equipment(self, draft: ProjectDraft, fld: FieldSpec) -> list[EquipmentDraft]:
        rng = self.rng
        assert draft.start_date is not None and draft.end_date is not None
        partners = self._institutions(draft, R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
        period = (draft.end_date - draft.start_date).days
        items = []
        for gear in rng.sample(fld.gear, rng.randint(3, 7)):
            recipient = rng.choice(partners)
            quantity = rng.randint(*gear.quantity)
            yen = rng.randint(*gear.yen) * 1000 * quantity
            draw = rng.random()
            currency = (
                "JPY"
                if draw < 0.75
                else "USD"
                if draw < 0.87
                else CURRENCY[INSTITUTION_BY_KEY[recipient].country]
            )
            value = Decimal(yen) / Decimal(str(YEN_PER_UNIT.get(currency, 1.0)))
            step = (
                Decimal(1000)
                if currency == "JPY"
                else Decimal(1)
                if currency in ZERO_DECIMAL_CURRENCIES
                else Decimal("0.01")
            )
            value = (value / step).quantize(Decimal(1)) * step
            delivery = draft.start_date + dt.timedelta(
                days=int(rng.triangular(30, period * 0.75, 240))
            )
            # Nothing is on order for years: what is not delivered arrives within six months.
            soon = REFERENCE_DATE + dt.timedelta(days=rng.randint(20, 180))
            delivery = min(delivery, soon, draft.end_date)
            age = (REFERENCE_DATE - delivery).days
            status = (
                EquipmentStatus.ORDERED
                if age < 0
                else EquipmentStatus.DELIVERED
                if age <= 90
                else EquipmentStatus.OUT_OF_SERVICE
                if age > 3 * 365 and rng.random() < 0.15
                else EquipmentStatus.IN_USE
            )
            items.append(
                EquipmentDraft(
                    gear.item, gear.category, quantity, value, currency, recipient, delivery, status
                )
            )
        return sorted(items, key=lambda e: (e.delivery, e.item))

    # -- PDM -----------------------------------------------------------------------------

    def _pdm(self, draft: ProjectDraft, fld: FieldSpec, *, measured: bool) -> list[ElementDraft]:
        rng = self.rng
        pool = [*fld.outputs, *GENERIC_OUTPUTS]
        chosen = sorted(rng.sample(range(len(pool)), rng.randint(3, 5)))
        outputs = []
        for position, index in enumerate(chosen, start=1):
            spec = pool[index]
            activities = sorted(rng.sample(range(len(spec.activities)), rng.randint(2, 4)))
            outputs.append(
                ElementDraft(
                    PdmLevel.OUTPUT,
                    position,
                    spec.description,
                    self._indicators(draft, spec.indicators, measured=measured),
                    tuple(
                        ElementDraft(PdmLevel.ACTIVITY, n, f"{position}-{n}. {spec.activities[a]}")
                        for n, a in enumerate(activities, start=1)
                    ),
                )
            )
        goal = ElementDraft(
            PdmLevel.OVERALL_GOAL,
            0,
            fld.goal,
            self._indicators(draft, fld.goal_indicators, measured=measured, pace=0.4),
        )
        purpose = ElementDraft(
            PdmLevel.PROJECT_PURPOSE,
            0,
            fld.purpose,
            self._indicators(draft, fld.purpose_indicators, measured=measured, pace=0.8),
            tuple(outputs),
        )
        return [goal, purpose]

    def _indicators(
        self,
        draft: ProjectDraft,
        specs: Sequence[IndicatorSpec],
        *,
        measured: bool,
        pace: float = 1.0,
    ) -> tuple[IndicatorDraft, ...]:
        rng = self.rng
        chosen = sorted(rng.sample(range(len(specs)), rng.randint(1, min(2, len(specs)))))
        indicators = []
        for spec in (specs[i] for i in chosen):
            baseline = Decimal(rng.randint(*spec.baseline))
            target = Decimal(rng.randint(*spec.target))
            measurements = (
                self._measurements(draft, baseline, target, spec.unit, pace) if measured else ()
            )
            indicators.append(
                IndicatorDraft(
                    spec.description, spec.unit, baseline, target, spec.verification, measurements
                )
            )
        return tuple(indicators)

    def _measurements(
        self, draft: ProjectDraft, baseline: Decimal, target: Decimal, unit: str, pace: float
    ) -> tuple[tuple[dt.date, Decimal, str], ...]:
        """A baseline survey, then yearly values moving from the baseline toward the target."""
        assert draft.start_date is not None and draft.end_date is not None
        months = _months_between(draft.start_date, draft.end_date)
        achieved = min(1.0, pace * self.rng.uniform(0.7, 1.15))
        curve = self.rng.uniform(0.8, 1.4)
        step = Decimal("0.1") if unit in ("%", "t/ha", "days") else Decimal(1)
        rows = []
        for month in (3, *range(12, months + 1, 12)):
            day = add_months(draft.start_date, month) - dt.timedelta(days=1)
            if day > REFERENCE_DATE:
                break
            share = 0.0 if month == 3 else achieved * (month / months) ** curve
            value = baseline + (target - baseline) * Decimal(str(round(share, 4)))
            note = (
                "Baseline survey"
                if month == 3
                else "Terminal evaluation"
                if month == months
                else f"Annual monitoring, year {month // 12}"
            )
            rows.append((day, value.quantize(step), note))
        return tuple(rows)

    # -- monitoring and evaluation -------------------------------------------------------

    def _meetings(self, draft: ProjectDraft) -> list[MeetingDraft]:
        assert draft.start_date is not None and draft.end_date is not None
        meetings = []
        for year in itertools.count():
            held = add_months(draft.start_date, 12 * year + 1) + dt.timedelta(
                days=self.rng.randint(0, 40)
            )
            if held > min(draft.end_date, REFERENCE_DATE):
                break
            minutes = (
                f"{ordinal(year + 1)} JCC meeting of {draft.acronym}: progress of the outputs "
                "and the work plan for the coming year reviewed."
            )
            decisions = " ".join(self.rng.sample(JCC_DECISIONS, 2))
            meetings.append(MeetingDraft(held, minutes, decisions))
        return meetings

    def _reports(self, draft: ProjectDraft) -> list[ReportDraft]:
        assert draft.start_date is not None and draft.end_date is not None
        reports = []
        for n in itertools.count(1):
            begin = add_months(draft.start_date, 6 * (n - 1))
            end = add_months(draft.start_date, 6 * n) - dt.timedelta(days=1)
            submitted = end + dt.timedelta(days=self.rng.randint(10, 45))
            if end > draft.end_date or submitted > REFERENCE_DATE:
                break
            summary = self.rng.choice(REPORT_SUMMARIES)
            reports.append(
                ReportDraft(begin, end, submitted, summary, f"MR {draft.acronym} {n:02d}")
            )
        return reports

    def _ex_ante(self, draft: ProjectDraft, planning: dt.date) -> EvaluationDraft:
        day = min(planning + dt.timedelta(days=self.rng.randint(20, 90)), REFERENCE_DATE)
        return EvaluationDraft(
            EvaluationKind.EX_ANTE,
            day,
            EVALUATION_TEXT[EvaluationKind.EX_ANTE],
            f"Ex-ante evaluation sheet {draft.acronym}",
        )

    def _evaluations(
        self, draft: ProjectDraft, steps: Mapping[ProjectPhase, dt.date]
    ) -> list[EvaluationDraft]:
        rng = self.rng
        assert draft.start_date is not None and draft.end_date is not None
        months = _months_between(draft.start_date, draft.end_date)
        evaluations = []
        mid = add_months(draft.start_date, months // 2) + dt.timedelta(days=rng.randint(0, 60))
        if mid <= REFERENCE_DATE:
            evaluations.append(
                EvaluationDraft(
                    EvaluationKind.MID_TERM_REVIEW,
                    mid,
                    EVALUATION_TEXT[EvaluationKind.MID_TERM_REVIEW],
                    f"Mid-term review report {draft.acronym} {mid:%Y}",
                )
            )
        if P.COMPLETED in steps:
            day = draft.end_date - dt.timedelta(days=rng.randint(60, 150))
            evaluations.append(
                EvaluationDraft(
                    EvaluationKind.TERMINAL,
                    day,
                    EVALUATION_TEXT[EvaluationKind.TERMINAL],
                    f"Terminal evaluation report {draft.acronym} {day:%Y}",
                    lessons=self._lessons(),
                )
            )
        if P.EX_POST_EVALUATED in steps:
            day = steps[P.EX_POST_EVALUATED]
            assert day >= _add_years(draft.end_date, 2)
            ratings = tuple(
                rng.choices(list(DacRating), weights=(30, 45, 20, 5))[0] for _ in DAC_CRITERIA
            )
            evaluations.append(
                EvaluationDraft(
                    EvaluationKind.EX_POST,
                    day,
                    EVALUATION_TEXT[EvaluationKind.EX_POST],
                    f"Ex-post evaluation report {draft.acronym} {day:%Y}",
                    ratings,
                    self._lessons(),
                )
            )
        return evaluations

    def _lessons(self) -> tuple[str, ...]:
        return tuple(self.rng.sample(LESSONS, self.rng.randint(1, 3)))

    def _materials(self, draft: ProjectDraft, fld: FieldSpec) -> list[MaterialDraft]:
        rng = self.rng
        local = list(dict.fromkeys(LANGUAGE[c] for c in draft.countries))
        materials = []
        titles = rng.sample(fld.materials, rng.choice((0, 1, 1, 2, 2, 3)))
        for n, title in enumerate(titles, start=1):
            language = rng.choices(["en", "ja", rng.choice(local)], weights=(50, 15, 35))[0]
            kind = (
                MaterialKind.DIGITAL_CONTENT
                if title.startswith(("Video", "E-learning", "Lecture series"))
                else MaterialKind.SEMINAR_MATERIAL
            )
            url = (
                f"https://example.org/satreps/{draft.acronym.lower()}/materials/{n}"
                if rng.random() < 0.7
                else None
            )
            materials.append(
                MaterialDraft(
                    f"{title} ({draft.acronym})",
                    kind,
                    language,
                    rng.choice(fld.audiences),
                    rng.choice(LICENCES),
                    url,
                )
            )
        return materials
