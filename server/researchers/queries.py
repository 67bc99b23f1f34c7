"""Researchers and their affiliations: the reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.db import group_rows
from server.core.validation import normalize_orcid
from server.models import Affiliation, Researcher


@dataclass
class ResearcherFilter:
    name: str | None = None
    institution_id: int | None = None
    orcid: str | None = None


def researchers_query(flt: ResearcherFilter | None) -> Select[Any]:
    stmt = select(Researcher)
    if flt is None:
        return stmt
    if flt.name:
        pattern = f"%{flt.name.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Researcher.name_en).like(pattern),
                func.lower(Researcher.name_local).like(pattern),
            )
        )
    if flt.orcid:
        stmt = stmt.where(Researcher.orcid == (normalize_orcid(flt.orcid) or flt.orcid))
    if flt.institution_id is not None:
        stmt = stmt.where(
            Researcher.id.in_(
                select(Affiliation.researcher_id).where(
                    Affiliation.institution_id == flt.institution_id
                )
            )
        )
    return stmt


async def researchers_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Researcher]:
    rows = await session.scalars(select(Researcher).where(Researcher.id.in_(ids)))
    return {r.id: r for r in rows}


async def affiliations_by_researcher(
    session: AsyncSession, researcher_ids: Sequence[int]
) -> dict[int, list[Affiliation]]:
    rows = await session.execute(
        select(Affiliation.researcher_id, Affiliation)
        .where(Affiliation.researcher_id.in_(researcher_ids))
        .order_by(Affiliation.start_date.desc(), Affiliation.id)
    )
    return group_rows(rows)
