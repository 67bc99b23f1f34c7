"""The demo research graph: the plan, its data files, the loaded graph (size and spread,
lifecycle, roles, identifiers) and the API reading it. Its cooperation, PDM and M&E records:
test_demo_components.py."""

from __future__ import annotations

import datetime as dt
import itertools
import tomllib
from collections import Counter
from collections.abc import AsyncIterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from server.access.visibility import PUBLIC_PHASES
from server.core.validation import normalize_orcid, normalize_ror
from server.demo import DemoDataExists, loader, plan_demo, plan_scaled, seed_demo, seed_scaled
from server.models import (
    Affiliation,
    Institution,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    Researcher,
    Theme,
)
from server.models.enums import EvaluationKind, InstitutionRole, MemberRole, ProjectPhase
from server.projects.service import TRANSITIONS
from tests.fixtures.demo_graph import STARTED, P, R, Sessions, by_project, count_rows

ROOT_FIELDS = {"environment-energy", "bioresources", "disaster-prevention", "infectious-diseases"}


# the demo graph is loaded once per dialect for this module (`demo`, in
# tests/fixtures/demo_graph.py); every test runs in a savepoint inside its transaction


@pytest.fixture
async def connection(module_connection: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    savepoint = await module_connection.begin_nested()
    yield module_connection
    if savepoint.is_active:
        await savepoint.rollback()


def _root(theme: Theme, themes: dict[int, Theme]) -> str:
    while theme.parent_id is not None:
        theme = themes[theme.parent_id]
    return theme.code


# ---- the plan, without a database ------------------------------------------------------


def test_plans_are_deterministic() -> None:
    assert plan_demo() == plan_demo()
    assert plan_demo(seed=1) != plan_demo()
    assert plan_scaled(themes=2, projects_per_theme=3) == plan_scaled(
        themes=2, projects_per_theme=3
    )


def test_scale_copies_every_project() -> None:
    single, double = plan_demo(), plan_demo(scale=2)
    assert len(double) == 2 * len(single)
    assert len({d.acronym for d in double}) == len(double)
    with pytest.raises(ValueError):
        plan_demo(scale=0)


# ---- the data files --------------------------------------------------------------------


def test_data_files_agree_with_each_other() -> None:
    keys = set(loader.INSTITUTION_BY_KEY)
    assert len(keys) == len(loader.INSTITUTIONS)
    for spec in loader.PROJECTS:
        assert {*spec.japanese, *spec.partners, *spec.third} <= keys, spec.acronym
        assert spec.theme in loader.FIELDS, spec.acronym
    countries = {i.country for i in loader.INSTITUTIONS}
    assert set(loader.NAME_POOLS) == countries
    partners = countries - {"JP"}
    assert set(loader.CURRENCY) == set(loader.LANGUAGE) == set(loader.REGION) == partners
    assert set(loader.CURRENCY.values()) == set(loader.YEN_PER_UNIT)
    assert set(loader.TOPICS) == ROOT_FIELDS
    assert set(loader.PHASE_NOTES) == set(ProjectPhase)
    assert set(loader.EVALUATION_TEXT) == set(EvaluationKind)


def test_data_files_ship_in_the_wheel() -> None:
    root = Path(__file__).parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["server"]
    data = sorted(p for p in (root / "server" / "demo" / "data").rglob("*") if p.is_file())
    assert data
    for path in data:
        inside = path.relative_to(root / "server").as_posix()
        assert any(fnmatch(inside, glob) for glob in globs), inside


# ---- the loaded graph ------------------------------------------------------------------


async def test_counts_and_spread(sessions: Sessions, demo: dict[str, int]) -> None:
    async with sessions() as session:
        tables = {
            "institutions": Institution,
            "researchers": Researcher,
            "affiliations": Affiliation,
            "projects": Project,
            "project_themes": ProjectTheme,
            "project_institutions": ProjectInstitution,
            "project_members": ProjectMember,
            "phase_transitions": PhaseTransition,
        }
        for name, model in tables.items():
            assert demo[name] == await count_rows(session, model), name
        countries = set(await session.scalars(select(ProjectCountry.country_code)))
        phases = set(await session.scalars(select(Project.phase)))
        themes = {t.id: t for t in await session.scalars(select(Theme))}
        tagged = list(await session.scalars(select(ProjectTheme.theme_id)))

    assert demo["projects"] >= 40
    assert demo["partner_countries"] == len(countries) >= 25
    assert "JP" not in countries
    assert phases == set(ProjectPhase)
    assert {_root(themes[t], themes) for t in tagged} == ROOT_FIELDS
    assert any(themes[t].parent_id is not None for t in tagged), "no sub-theme used"


async def test_histories_follow_the_lifecycle(sessions: Sessions, demo: dict[str, int]) -> None:
    async with sessions() as session:
        projects = list(await session.scalars(select(Project)))
        history = await by_project(session, PhaseTransition, PhaseTransition.id)

    for project in projects:
        steps = history[project.id]
        assert steps[0].from_phase is None and steps[0].to_phase == P.IDENTIFICATION
        for before, after in itertools.pairwise(steps):
            assert after.from_phase == before.to_phase, project.acronym
            assert after.to_phase in TRANSITIONS[before.to_phase], project.acronym
            assert after.at > before.at, project.acronym
        assert steps[-1].to_phase == project.phase, project.acronym

        if project.phase in STARTED:
            signed = next(s.at.date() for s in steps if s.to_phase == P.IMPLEMENTATION)
            assert project.rd_signed_on == signed, project.acronym
            assert project.start_date is not None and signed <= project.start_date
        else:
            assert project.rd_signed_on is None, project.acronym
        if project.start_date is not None:
            assert project.end_date is not None
            months = (project.end_date - project.start_date + dt.timedelta(days=1)).days / 30.44
            assert 35.5 <= months <= 60.5, project.acronym


async def test_roles_match_countries(sessions: Sessions, demo: dict[str, int]) -> None:
    async with sessions() as session:
        await _check_roles(session)
        members = await by_project(session, ProjectMember, ProjectMember.id)
        links = await by_project(session, ProjectInstitution, ProjectInstitution.id)
        countries = await by_project(session, ProjectCountry, ProjectCountry.country_code)
        where = dict(
            (await session.execute(select(Institution.id, Institution.country_code))).all()
        )

    for project_id, rows in members.items():
        roles = Counter(m.role for m in rows)
        assert roles[MemberRole.JAPANESE_PI] == 1 and roles[MemberRole.PARTNER_PI] == 1
        lead = {link.role: link.institution_id for link in links[project_id]}
        taking_part = {link.institution_id for link in links[project_id]}
        partners = {c.country_code for c in countries[project_id]}
        for member in rows:
            assert member.institution_id in taking_part
            if member.role == MemberRole.JAPANESE_PI:
                assert member.institution_id == lead[R.JAPANESE_LEAD]
            if member.role == MemberRole.PARTNER_PI:
                assert member.institution_id == lead[R.PARTNER_LEAD]
            if member.role == MemberRole.COUNTERPART:
                assert where[member.institution_id] in partners
    assert any(MemberRole.COUNTERPART in {m.role for m in rows} for rows in members.values())


async def _check_roles(session: AsyncSession) -> None:
    """Every project: one lead per side, and each role in the right country."""
    countries = await by_project(session, ProjectCountry, ProjectCountry.country_code)
    links = await session.execute(
        select(ProjectInstitution.project_id, ProjectInstitution.role, Institution.country_code)
        .join(Institution, Institution.id == ProjectInstitution.institution_id)
        .order_by(ProjectInstitution.id)
    )
    leads: Counter[tuple[int, InstitutionRole]] = Counter()
    for project_id, role, country in links:
        partners = {c.country_code for c in countries[project_id]}
        assert partners and "JP" not in partners
        if role in (R.JAPANESE_LEAD, R.JAPANESE_PARTICIPANT):
            assert country == "JP"
        elif role in (R.PARTNER_LEAD, R.PARTNER_PARTICIPANT):
            assert country in partners
        else:
            assert country != "JP" and country not in partners
        leads[project_id, role] += 1
    for project_id in countries:
        assert leads[project_id, R.JAPANESE_LEAD] == 1
        assert leads[project_id, R.PARTNER_LEAD] == 1


async def test_identifiers_and_names(sessions: Sessions, demo: dict[str, int]) -> None:
    async with sessions() as session:
        institutions = list(await session.scalars(select(Institution)))
        researchers = list(await session.scalars(select(Researcher)))

    rors = [i.ror_id for i in institutions if i.ror_id]
    assert len(rors) == len(set(rors)) and all(normalize_ror(r) == r for r in rors)
    by_ror = {i.ror_id: i.name_en for i in institutions if i.ror_id}
    assert by_ror == {"057zh3y96": "The University of Tokyo", "02kpeqv85": "Kyoto University"}
    orcids = [r.orcid for r in researchers if r.orcid]
    assert len(orcids) == len(set(orcids)) and all(normalize_orcid(o) == o for o in orcids)

    assert all(i.name_local for i in institutions if i.country_code == "JP")
    assert len({i.kind for i in institutions}) >= 6
    assert sum(1 for r in researchers if r.name_local) > len(researchers) // 2
    assert all(r.email and r.email.endswith(".example") for r in researchers)


async def test_loading_twice_is_refused(sessions: Sessions, demo: dict[str, int]) -> None:
    async with sessions() as session:
        with pytest.raises(DemoDataExists):
            await seed_demo(session)


async def test_graphql_reads_the_graph(gql: Any, admin: Any, demo: dict[str, int]) -> None:
    query = """{
      projects(first: 100) {
        totalCount
        nodes {
          acronym phase rdSignedOn
          partnerCountries { code }
          themes { code }
          institutions { role institution { nameEn nameLocal country { code } } }
          members { role researcher { nameEn nameLocal } institution { nameEn } }
          phaseHistory { fromPhase toPhase }
        }
      }
    }"""
    data = (await admin(query))["projects"]
    assert data["totalCount"] == len(data["nodes"]) == demo["projects"]
    for node in data["nodes"]:
        assert node["partnerCountries"] and node["themes"] and node["members"]
        assert {"JAPANESE_LEAD", "PARTNER_LEAD"} <= {i["role"] for i in node["institutions"]}
        assert node["phaseHistory"][-1]["toPhase"] == node["phase"]

    themes = (await admin("{ themes { code projects { id } } }"))["themes"]
    assert sum(len(t["projects"]) for t in themes) == demo["projects"]

    public = (await gql("{ projects(first: 100) { totalCount nodes { phase } } }"))["projects"]
    expected = sum(1 for n in data["nodes"] if P[n["phase"]] in PUBLIC_PHASES)
    assert public["totalCount"] == len(public["nodes"]) == expected > 0
    assert {P[n["phase"]] for n in public["nodes"]} <= set(PUBLIC_PHASES)


async def test_scaled_graph(sessions: Sessions) -> None:
    async with sessions() as session:
        counts = await seed_scaled(
            session, themes=3, projects_per_theme=4, institutions_per_project=5
        )
        await session.commit()
    assert counts["themes"] == 3 and counts["projects"] == 12
    assert counts["project_institutions"] == 12 * 5
    assert counts["expert_dispatches"] == counts["pdm_elements"] == 0  # demo graph only
    async with sessions() as session:
        await _check_roles(session)
        new = list(await session.scalars(select(Theme).where(Theme.code.like("bench-theme-%"))))
        assert len(new) == 3 and all(t.parent_id is not None for t in new)
        with pytest.raises(DemoDataExists):
            await seed_scaled(session, themes=1, projects_per_theme=1)
