"""Projects as drafts: the lifecycle path, its dates, the phase history and the people.

Everything is deterministic: one `random.Random(seed)` and dates counted from
REFERENCE_DATE (the day the graph is "as of"), never from today.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from collections import defaultdict
from collections.abc import Sequence

import pycountry

from server.demo.drafts import PersonDraft, ProjectDraft, StepDraft
from server.demo.loader import (
    INSTITUTION_BY_KEY,
    NAME_POOLS,
    PHASE_NOTES,
    ProjectSpec,
    ascii_fold,
)
from server.models.enums import InstitutionKind, InstitutionRole, MemberRole, ProjectPhase
from server.projects.service import TRANSITIONS

P = ProjectPhase
R = InstitutionRole

DEMO_SEED = 2008  # SATREPS started in fiscal year 2008
REFERENCE_DATE = dt.date(2026, 11, 1)

MAIN_PATH = (
    P.IDENTIFICATION,
    P.REQUESTED,
    P.APPROVED,
    P.PLANNING,
    P.IMPLEMENTATION,
    P.COMPLETED,
    P.FOLLOW_UP,
    P.EX_POST_EVALUATED,
)
# Phases with a (planned or actual) project period, and those past the signed R/D.
DATED_PHASES = frozenset(MAIN_PATH[1:])
STARTED_PHASES = frozenset(MAIN_PATH[4:])
# Months from the project start at which each step happens (some depend on the duration).
_MONTHS_BEFORE_START = {
    P.IDENTIFICATION: -26,
    P.REQUESTED: -21,
    P.REJECTED: -16,
    P.APPROVED: -14,
    P.PLANNING: -9,
    P.IMPLEMENTATION: -1,  # the R/D is signed a month before the work starts
}


def phase_path(
    target: ProjectPhase,
    *,
    with_follow_up: bool = True,
    withdrawn_after: ProjectPhase = P.PLANNING,
) -> list[ProjectPhase]:
    """The phases a project goes through from identification to `target`, checked."""
    if target == P.REJECTED:
        path = [P.IDENTIFICATION, P.REQUESTED, P.REJECTED]
    elif target == P.WITHDRAWN:
        path = [*MAIN_PATH[: MAIN_PATH.index(withdrawn_after) + 1], P.WITHDRAWN]
    else:
        path = list(MAIN_PATH[: MAIN_PATH.index(target) + 1])
        if target == P.EX_POST_EVALUATED and not with_follow_up:
            path.remove(P.FOLLOW_UP)
    for before, after in itertools.pairwise(path):
        if after not in TRANSITIONS[before]:
            raise ValueError(f"no transition from {before.value} to {after.value}")
    return path


def _step_months(path: Sequence[ProjectPhase], duration: int) -> list[int]:
    after_start = {
        P.COMPLETED: duration,
        P.FOLLOW_UP: duration + 4,
        P.EX_POST_EVALUATED: duration + 36,
    }
    months: list[int] = []
    for phase in path:
        if phase == P.WITHDRAWN:
            months.append(months[-1] + 3)
        else:
            months.append(_MONTHS_BEFORE_START.get(phase, after_start.get(phase, 0)))
    return months


def _start_window(final: ProjectPhase, last_month: int, duration: int) -> tuple[int, int]:
    """How many months before REFERENCE_DATE the project may start, so that its last step
    is in the past and its next step (if any) is still in the future."""
    next_step = {
        P.IDENTIFICATION: _MONTHS_BEFORE_START[P.REQUESTED],
        P.REQUESTED: _MONTHS_BEFORE_START[P.APPROVED],
        P.APPROVED: _MONTHS_BEFORE_START[P.PLANNING],
        P.PLANNING: _MONTHS_BEFORE_START[P.IMPLEMENTATION],
        P.IMPLEMENTATION: duration,
        P.COMPLETED: duration + 25,  # ex-post evaluation not yet due
        P.FOLLOW_UP: duration + 36,
    }.get(final, last_month + 49)  # terminal: up to four years ago
    return last_month + 1, next_step - 1


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, min(day.day, 28))


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def institution_roles(spec: ProjectSpec) -> list[tuple[str, InstitutionRole]]:
    """Roles from the spec's lists, checked against the countries of the institutions."""
    roles = [
        (spec.japanese[0], R.JAPANESE_LEAD),
        *((key, R.JAPANESE_PARTICIPANT) for key in spec.japanese[1:]),
        (spec.partners[0], R.PARTNER_LEAD),
        *((key, R.PARTNER_PARTICIPANT) for key in spec.partners[1:]),
        *((key, R.THIRD_COUNTRY) for key in spec.third),
    ]
    if "JP" in spec.countries:
        raise ValueError(f"{spec.acronym}: Japan cannot be a partner country")
    if len({key for key, _ in roles}) != len(roles):
        raise ValueError(f"{spec.acronym}: an institution is listed twice")
    for key, role in roles:
        country = INSTITUTION_BY_KEY[key].country
        ok = (
            country == "JP"
            if role in (R.JAPANESE_LEAD, R.JAPANESE_PARTICIPANT)
            else country in spec.countries
            if role in (R.PARTNER_LEAD, R.PARTNER_PARTICIPANT)
            else country != "JP" and country not in spec.countries
        )
        if not ok:
            raise ValueError(f"{spec.acronym}: {key} ({country}) cannot be {role.value}")
    return roles


class Planner:
    """Turns specs into drafts: dates, history and people, drawn from one RNG.

    The cooperation planner draws from the same RNG and the same roster (junior
    counterparts), after every project is drafted.
    """

    REUSE = 0.2  # chance that a project role goes to someone already in the graph

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.roster: dict[str, list[PersonDraft]] = defaultdict(list)
        self.names: set[str] = set()
        self.serials = itertools.count(1)

    def project(self, spec: ProjectSpec, *, copy: int = 1) -> ProjectDraft:
        rng = self.rng
        roles = institution_roles(spec)
        path = phase_path(
            spec.phase, with_follow_up=rng.random() < 0.5, withdrawn_after=spec.withdrawn_after
        )
        duration = rng.choice((36, 48, 60, 60))
        months = _step_months(path, duration)
        lo, hi = _start_window(path[-1], months[-1], duration)
        start = add_months(REFERENCE_DATE.replace(day=1), -rng.randint(lo, hi))
        acronym = spec.acronym if copy == 1 else f"{spec.acronym}-{copy}"
        history = self._history(acronym, path, months, start)
        dated = spec.phase in DATED_PHASES
        return ProjectDraft(
            acronym=acronym,
            title=spec.title if copy == 1 else f"{spec.title} ({ordinal(copy)} cohort)",
            summary=_summary(spec),
            theme=spec.theme,
            phase=spec.phase,
            countries=spec.countries,
            start_date=start if dated else None,
            end_date=add_months(start, duration) - dt.timedelta(days=1) if dated else None,
            rd_signed_on=_signed_on(history) if spec.phase in STARTED_PHASES else None,
            institutions=roles,
            members=self._members(spec, path),
            history=history,
        )

    def _history(
        self, acronym: str, path: Sequence[ProjectPhase], months: Sequence[int], start: dt.date
    ) -> list[StepDraft]:
        steps: list[StepDraft] = []
        for before, phase, month in zip([None, *path[:-1]], path, months, strict=True):
            day = add_months(start, month) + dt.timedelta(days=self.rng.randint(0, 20))
            at = dt.datetime.combine(day, dt.time(self.rng.randint(0, 8), 30), tzinfo=dt.UTC)
            steps.append(
                StepDraft(before, phase, at, PHASE_NOTES[phase], _document(acronym, phase, at))
            )
        return steps

    def _members(
        self, spec: ProjectSpec, path: Sequence[ProjectPhase]
    ) -> list[tuple[PersonDraft, MemberRole]]:
        wanted: list[tuple[str, MemberRole, bool]] = [
            (spec.japanese[0], MemberRole.JAPANESE_PI, True),
            (spec.partners[0], MemberRole.PARTNER_PI, True),
        ]
        if P.APPROVED in path:
            wanted += [(key, MemberRole.COUNTERPART, False) for key in spec.partners[:2]]
            wanted += [(key, MemberRole.MEMBER, False) for key in spec.japanese[:2]]
            wanted += [(key, MemberRole.MEMBER, False) for key in spec.third]
        if P.IMPLEMENTATION in path:
            wanted.append((self.rng.choice(spec.japanese), MemberRole.EXPERT, False))
        chosen: list[tuple[PersonDraft, MemberRole]] = []
        for key, role, senior in wanted:
            person = self.person(key, senior=senior, exclude={p for p, _ in chosen})
            chosen.append((person, role))
        return chosen

    def person(self, institution: str, *, senior: bool, exclude: set[PersonDraft]) -> PersonDraft:
        known = [p for p in self.roster[institution] if p not in exclude]
        if known and self.rng.random() < self.REUSE:
            return self.rng.choice(known)
        spec = INSTITUTION_BY_KEY[institution]
        pool = NAME_POOLS[spec.country]
        name_en, name_local = pool.draw(self.rng)
        for _ in range(20):
            if name_en not in self.names:
                break
            name_en, name_local = pool.draw(self.rng)
        self.names.add(name_en)
        person = PersonDraft(
            serial=next(self.serials),
            name_en=name_en,
            name_local=name_local,
            institution=institution,
            title=self._title(spec.kind, senior),
            since=dt.date(self.rng.randint(2000, 2020), self.rng.randint(1, 12), 1),
            email=f"{_email_local(name_en)}@{institution}.example",
        )
        self.roster[institution].append(person)
        return person

    def _title(self, kind: InstitutionKind, senior: bool) -> str:
        options: tuple[str, ...]
        if kind == InstitutionKind.UNIVERSITY:
            options = ("Professor",) if senior else ("Associate Professor", "Assistant Professor")
        else:
            options = (
                ("Director", "Principal Researcher")
                if senior
                else ("Senior Researcher", "Researcher", "Research Officer")
            )
        return self.rng.choice(options)


def _signed_on(history: Sequence[StepDraft]) -> dt.date:
    return next(s.at.date() for s in history if s.to_phase == P.IMPLEMENTATION)


def _document(acronym: str, phase: ProjectPhase, at: dt.datetime) -> str | None:
    if phase == P.IMPLEMENTATION:
        return f"R/D {acronym} {at:%Y-%m-%d}"
    if phase == P.EX_POST_EVALUATED:
        return f"Ex-post evaluation report {acronym} {at:%Y}"
    return None


def _summary(spec: ProjectSpec) -> str:
    japanese = INSTITUTION_BY_KEY[spec.japanese[0]].name_en
    partner = INSTITUTION_BY_KEY[spec.partners[0]].name_en
    countries = _listing([country_name(c) for c in spec.countries])
    return (
        f"{spec.title}: joint research led by {japanese} and {partner}, with partners in "
        f"{countries}. Demo data: the project, its people and its history are fictional."
    )


def _email_local(name: str) -> str:
    return re.sub(r"[^a-z]+", ".", ascii_fold(name).lower()).strip(".")


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
