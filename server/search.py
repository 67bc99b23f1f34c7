"""Full-text search: PostgreSQL tsvector (GIN) or SQLite FTS5, behind one interface."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import Principal

MAX_QUERY_LENGTH = 200
MAX_FIRST = 50
DEFAULT_FIRST = 20


class SearchType(enum.StrEnum):
    PROJECT = "project"
    DATASET = "dataset"
    INSTITUTION = "institution"
    RESEARCHER = "researcher"


@dataclass(frozen=True)
class Hit:
    type: SearchType
    id: int
    rank: float
    highlight: str
    cursor: str


@dataclass(frozen=True)
class Results:
    hits: list[Hit]
    total: int
    offset: int
    has_next: bool


async def search(
    session: AsyncSession,
    principal: Principal,
    query: str,
    types: Sequence[SearchType],
    first: int | None,
    after: str | None,
) -> Results:
    raise NotImplementedError
