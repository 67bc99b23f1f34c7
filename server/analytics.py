"""Programme analytics as SQL over what the principal may see (server/access.py)."""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Principal
from server.models.enums import DacRating, InstitutionKind, ProjectPhase

Dimension = Literal["total", "theme", "country", "phase", "year", "sdg"]


class Side(enum.StrEnum):
    JAPAN = "japan"
    PARTNER = "partner"
    THIRD_COUNTRY = "third_country"


@dataclass
class StatsFilter:
    themes: list[int] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    phases: list[ProjectPhase] = field(default_factory=list)
    years: list[int] = field(default_factory=list)


@dataclass
class Figures:
    projects: int = 0
    institutions: int = 0
    japanese_institutions: int = 0
    partner_institutions: int = 0
    third_country_institutions: int = 0
    researchers: int = 0
    expert_dispatches: int = 0
    expert_person_months: float = 0.0
    experts_by_origin: dict[str, tuple[int, float]] = field(default_factory=dict)
    training_participants: int = 0
    equipment_value: Decimal = Decimal(0)
    indicators: int = 0
    indicators_on_track: int = 0
    evaluations: int = 0
    ratings: dict[tuple[str, DacRating], int] = field(default_factory=lambda: defaultdict(int))
    datasets: int = 0
    versions: int = 0
    bytes_stored: int = 0
    uploads_ready: int = 0
    uploads_failed: int = 0


@dataclass(frozen=True)
class Cell:
    theme_id: int
    country: str
    projects: int
    datasets: int


@dataclass(frozen=True)
class Node:
    id: int
    name: str
    country: str
    kind: InstitutionKind
    side: Side
    projects: int


@dataclass(frozen=True)
class Edge:
    source: int
    target: int
    projects: int
    datasets: int
    japan_partner: bool


@dataclass(frozen=True)
class Network:
    nodes: list[Node]
    edges: list[Edge]


@dataclass(frozen=True)
class Point:
    theme_id: int
    month: dt.date
    projects: int
    datasets: int


async def figures(
    session: AsyncSession, principal: Principal, flt: StatsFilter, dimension: Dimension
) -> dict[Any, Figures]:
    raise NotImplementedError


async def theme_country_matrix(
    session: AsyncSession, principal: Principal, flt: StatsFilter
) -> list[Cell]:
    raise NotImplementedError


async def collaboration_network(
    session: AsyncSession, principal: Principal, flt: StatsFilter
) -> Network:
    raise NotImplementedError


async def activity_series(
    session: AsyncSession, principal: Principal, flt: StatsFilter
) -> list[Point]:
    raise NotImplementedError
