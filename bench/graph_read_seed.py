"""The seeding of bench/graph_read.py's databases: the scaled graph
(`server.demo.seed_scaled`), a bench researcher for the access filters and a token per
principal, committed."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import common  # noqa: F401  (the repository on the import path)
from sqlalchemy import func, select, update

from server.access.auth import ensure_account, issue_token
from server.access.visibility import PUBLIC_PHASES
from server.core.db import make_engine, session_factory, utcnow
from server.demo import seed_scaled
from server.models import (
    Affiliation,
    ApiToken,
    Project,
    ProjectInstitution,
    ProjectMember,
    Researcher,
)
from server.models.enums import AccountRole, MemberRole


async def seed(url: str, args: argparse.Namespace) -> tuple[dict[str, int], dict[str, str]]:
    """The scaled graph, a bench researcher and the tokens by principal, committed."""
    engine = make_engine(url)
    ttl = dt.timedelta(hours=2)
    try:
        async with session_factory(engine)() as session:
            counts = await seed_scaled(
                session,
                themes=args.themes,
                projects_per_theme=args.projects,
                institutions_per_project=args.institutions,
            )
            await session.flush()
            researcher_id = await add_bench_researcher(session, args.member_projects)
            admin = await ensure_account(session, "bench-admin", AccountRole.ADMIN)
            researcher = await ensure_account(
                session, "bench-researcher", AccountRole.RESEARCHER, researcher_id=researcher_id
            )
            tokens = {"anonymous": ""}
            for name, account in (("researcher", researcher), ("admin", admin)):
                _, tokens[name] = await issue_token(session, account, ttl=ttl)
            # "used" in the future: authenticate's once-a-minute last-used UPDATE stays out
            # of the measurements (on SQLite, concurrent requests would race for the lock)
            await session.execute(update(ApiToken).values(last_used_at=utcnow() + ttl))
            await session.commit()
    finally:
        await engine.dispose()
    return counts, tokens


async def add_bench_researcher(session: Any, member_projects: int) -> int:
    """A researcher affiliated with the institution in the fewest projects, a member of
    `member_projects` projects: half before approval (visible to them only as members),
    half after."""
    # the institution in the fewest projects: its projects add a few to what members see
    institution_id = await session.scalar(
        select(ProjectInstitution.institution_id)
        .group_by(ProjectInstitution.institution_id)
        .order_by(func.count(), ProjectInstitution.institution_id)
        .limit(1)
    )
    person = Researcher(name_en="Bench Researcher", email="bench@example.org")
    session.add(person)
    await session.flush()
    session.add(Affiliation(researcher_id=person.id, institution_id=institution_id))
    hidden = await session.scalars(
        select(Project.id)
        .where(Project.phase.not_in(PUBLIC_PHASES))
        .order_by(Project.id)
        .limit(member_projects // 2)
    )
    public = await session.scalars(
        select(Project.id)
        .where(Project.phase.in_(PUBLIC_PHASES))
        .order_by(Project.id)
        .limit(member_projects - member_projects // 2)
    )
    session.add_all(
        ProjectMember(project_id=pid, researcher_id=person.id, role=MemberRole.MEMBER)
        for pid in [*hidden, *public]
    )
    await session.flush()
    return int(person.id)
