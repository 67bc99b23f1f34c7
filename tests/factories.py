"""Build graph rows through the domain services (the same rules the API applies)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.relay import to_base64

from server.access.auth import Principal
from server.institutions import service as institutions
from server.models.enums import InstitutionKind, InstitutionRole, MemberRole, ProjectPhase
from server.projects import service as projects
from server.projects.service import TRANSITIONS
from server.researchers import service as researchers

_seq = itertools.count(1)


def gid(type_name: str, pk: int) -> str:
    return to_base64(type_name, pk)


def phase_path(target: ProjectPhase) -> list[ProjectPhase]:
    """The shortest lifecycle path from identification to `target`."""
    start = ProjectPhase.IDENTIFICATION
    previous: dict[ProjectPhase, ProjectPhase | None] = {start: None}
    queue = deque([start])
    while queue:
        phase = queue.popleft()
        for nxt in sorted(TRANSITIONS[phase]):
            if nxt not in previous:
                previous[nxt] = phase
                queue.append(nxt)
    path: list[ProjectPhase] = []
    step: ProjectPhase | None = target
    while step is not None and step != start:
        path.append(step)
        step = previous[step]
    return list(reversed(path))


@dataclass
class Factory:
    sessions: async_sessionmaker[AsyncSession]
    principal: Principal

    async def _run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.sessions() as session:
            result = await fn(session, self.principal, *args, **kwargs)
            await session.commit()
            return result

    async def institution(
        self, country: str = "JP", kind: InstitutionKind = InstitutionKind.UNIVERSITY, **values: Any
    ) -> Any:
        n = next(_seq)
        values = {"name_en": f"Institution {n}", "country": country, "kind": kind, **values}
        return await self._run(institutions.create_institution, values)

    async def researcher(self, **values: Any) -> Any:
        values = {"name_en": f"Researcher {next(_seq)}", **values}
        return await self._run(researchers.create_researcher, values)

    async def project(
        self,
        *,
        phase: ProjectPhase = ProjectPhase.IMPLEMENTATION,
        countries: tuple[str, ...] = ("TH",),
        theme_ids: tuple[int, ...] = (5,),
        start: dt.date = dt.date(2022, 4, 1),
        end: dt.date | None = dt.date(2027, 3, 31),
        **values: Any,
    ) -> Any:
        values = {
            "title": f"Project {next(_seq)}",
            "partner_countries": list(countries),
            "theme_ids": list(theme_ids),
            "start_date": start,
            "end_date": end,
            **values,
        }
        project = await self._run(projects.create_project, values)
        for step in phase_path(phase):
            rd = dt.date(2022, 5, 1) if step == ProjectPhase.IMPLEMENTATION else None
            early = "test fixture" if step == ProjectPhase.EX_POST_EVALUATED else None
            project = await self._run(
                projects.transition_phase, project.id, step, rd_signed_on=rd, override_reason=early
            )
        return project

    async def link(self, project_id: int, institution_id: int, role: InstitutionRole) -> Any:
        return await self._run(projects.add_project_institution, project_id, institution_id, role)

    async def member(
        self, project_id: int, researcher_id: int, role: MemberRole = MemberRole.MEMBER
    ) -> Any:
        return await self._run(projects.add_project_member, project_id, researcher_id, role)
