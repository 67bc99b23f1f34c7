"""The plans: the demo graph from its written-down projects, and a synthetic benchmark graph.

`plan_scaled` builds N new themes x M projects x K institutions from the same institution
catalogue and the same project planner, so its projects obey the same rules (roles match
countries, histories follow TRANSITIONS). It plans no cooperation, PDM or M&E records.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from server.demo.cooperation import CooperationPlanner
from server.demo.drafts import ProjectDraft
from server.demo.loader import INSTITUTION_BY_KEY, INSTITUTIONS, PROJECTS, TOPICS, ProjectSpec
from server.demo.planner import DEMO_SEED, MAIN_PATH, Planner, country_name
from server.models.enums import ProjectPhase

P = ProjectPhase

ROOT_FIELDS = ("environment-energy", "bioresources", "disaster-prevention", "infectious-diseases")
SCALED_THEME_PREFIX = "bench-theme-"


def plan_demo(*, scale: int = 1, seed: int = DEMO_SEED) -> list[ProjectDraft]:
    """The demo graph as drafts; `scale` copies every project (with new dates and people)."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    planner = Planner(random.Random(seed))
    drafts = [planner.project(spec, copy=copy) for copy in range(1, scale + 1) for spec in PROJECTS]
    cooperation = CooperationPlanner(planner)  # after every project, so they stay as they were
    for draft in drafts:
        draft.cooperation = cooperation.plan(draft)
    return drafts


@dataclass(frozen=True)
class ThemeSpec:
    code: str
    name: str
    parent: str


_PHASE_WEIGHTS = {
    P.IDENTIFICATION: 1,
    P.REQUESTED: 1,
    P.APPROVED: 1,
    P.PLANNING: 1,
    P.IMPLEMENTATION: 4,
    P.COMPLETED: 2,
    P.FOLLOW_UP: 1,
    P.EX_POST_EVALUATED: 2,
    P.REJECTED: 1,
    P.WITHDRAWN: 1,
}


@dataclass
class _Pick:
    """Institutions chosen for one synthetic project, kept consistent with its countries."""

    rng: random.Random
    by_country: Mapping[str, Sequence[str]]
    countries: list[str] = field(default_factory=list)
    japanese: list[str] = field(default_factory=list)
    partners: list[str] = field(default_factory=list)
    third: list[str] = field(default_factory=list)

    def used(self) -> set[str]:
        return {*self.japanese, *self.partners, *self.third}

    def japanese_one(self) -> bool:
        free = [k for k in self.by_country["JP"] if k not in self.used()]
        if free:
            self.japanese.append(self.rng.choice(free))
        return bool(free)

    def partner_one(self) -> bool:
        free = [k for c in self.countries for k in self.by_country[c] if k not in self.used()]
        if not free:
            third_countries = {INSTITUTION_BY_KEY[k].country for k in self.third}
            spare = [c for c in self.by_country if c != "JP" and c not in third_countries]
            spare = [c for c in spare if c not in self.countries]
            if not spare:
                return False
            country = self.rng.choice(sorted(spare))
            self.countries.append(country)
            free = list(self.by_country[country])
        self.partners.append(self.rng.choice(free))
        return True

    def third_one(self) -> bool:
        blocked = {"JP", *self.countries}
        free = [
            k
            for c, keys in self.by_country.items()
            if c not in blocked
            for k in keys
            if k not in self.used()
        ]
        if free:
            self.third.append(self.rng.choice(sorted(free)))
        return bool(free)


def _keys_by_country() -> dict[str, list[str]]:
    by_country: dict[str, list[str]] = defaultdict(list)
    for spec in INSTITUTIONS:
        by_country[spec.country].append(spec.key)
    return dict(by_country)


KEYS_BY_COUNTRY = _keys_by_country()
PARTNER_COUNTRIES = sorted(c for c in KEYS_BY_COUNTRY if c != "JP")


def _scaled_spec(
    rng: random.Random, acronym: str, theme: ThemeSpec, institutions: int
) -> ProjectSpec:
    pick = _Pick(rng, KEYS_BY_COUNTRY, countries=[rng.choice(PARTNER_COUNTRIES)])
    pick.japanese_one()
    pick.partner_one()
    extra = (pick.japanese_one, pick.partner_one, pick.third_one)
    for i in range(max(0, institutions - 2)):
        for attempt in range(3):
            if extra[(i + attempt) % 3]():
                break
    phase = rng.choices(list(_PHASE_WEIGHTS), weights=list(_PHASE_WEIGHTS.values()))[0]
    topic = rng.choice(TOPICS[theme.parent])
    return ProjectSpec(
        acronym=acronym,
        title=f"{topic} in {country_name(pick.countries[0])}",
        theme=theme.code,
        countries=tuple(pick.countries),
        japanese=tuple(pick.japanese),
        partners=tuple(pick.partners),
        phase=phase,
        third=tuple(pick.third),
        withdrawn_after=rng.choice(MAIN_PATH[:4]),
    )


def plan_scaled(
    *,
    themes: int = 20,
    projects_per_theme: int = 25,
    institutions_per_project: int = 4,
    seed: int = DEMO_SEED,
) -> tuple[list[ThemeSpec], list[ProjectDraft]]:
    """New sub-themes (round-robin under the four fields), each with its projects."""
    if themes < 1 or projects_per_theme < 1 or institutions_per_project < 2:
        raise ValueError("need at least one theme, one project and two institutions")
    rng = random.Random(seed)
    planner = Planner(rng)
    theme_specs = [
        ThemeSpec(
            code=f"{SCALED_THEME_PREFIX}{t:03d}",
            name=f"Benchmark theme {t:03d}",
            parent=ROOT_FIELDS[t % len(ROOT_FIELDS)],
        )
        for t in range(1, themes + 1)
    ]
    drafts = [
        planner.project(
            _scaled_spec(rng, f"BENCH-{t:03d}-{p:04d}", theme, institutions_per_project)
        )
        for t, theme in enumerate(theme_specs, start=1)
        for p in range(1, projects_per_theme + 1)
    ]
    return theme_specs, drafts
