"""Institutions and countries: the reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Country, Institution
from server.models.enums import InstitutionKind


@dataclass
class InstitutionFilter:
    country: str | None = None
    kind: InstitutionKind | None = None
    name: str | None = None


async def list_countries(session: AsyncSession) -> Sequence[Country]:
    return (await session.scalars(select(Country).order_by(Country.code))).all()


async def countries_by_code(session: AsyncSession, codes: Sequence[str]) -> dict[str, Country]:
    rows = await session.scalars(select(Country).where(Country.code.in_(codes)))
    return {c.code: c for c in rows}


async def institutions_by_id(session: AsyncSession, ids: Sequence[int]) -> dict[int, Institution]:
    rows = await session.scalars(select(Institution).where(Institution.id.in_(ids)))
    return {i.id: i for i in rows}


def institutions_query(flt: InstitutionFilter | None) -> Select[Any]:
    stmt = select(Institution)
    if flt is None:
        return stmt
    if flt.country:
        stmt = stmt.where(Institution.country_code == flt.country.upper())
    if flt.kind:
        stmt = stmt.where(Institution.kind == flt.kind)
    if flt.name:
        pattern = f"%{flt.name.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Institution.name_en).like(pattern),
                func.lower(Institution.name_local).like(pattern),
                func.lower(Institution.acronym).like(pattern),
            )
        )
    return stmt
