"""Keyset (cursor) pagination over a unique, ordered integer key: no OFFSET anywhere."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from server.core.errors import DomainError, QueryErrorCode

T = TypeVar("T")
MAX_PAGE = 100
DEFAULT_PAGE = 20
_CURSOR_PREFIX = "k1:"


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@dataclass
class Page(Generic[T]):
    items: list[T]
    keys: list[int]
    has_next: bool
    has_previous: bool
    total: int


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{key}".encode()).decode()


def decode_cursor(cursor: str, field: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if raw.startswith(_CURSOR_PREFIX):
            return int(raw[len(_CURSOR_PREFIX) :])
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise DomainError.one(QueryErrorCode.INVALID_CURSOR, f"{field} is not a valid cursor", field)


def _check_size(value: int | None, field: str) -> None:
    if value is not None and not 0 <= value <= MAX_PAGE:
        raise DomainError.one(
            QueryErrorCode.INVALID_PAGE_SIZE, f"{field} must be between 0 and {MAX_PAGE}", field
        )


async def paginate(
    session: AsyncSession,
    stmt: Select[Any],
    key: InstrumentedAttribute[int],
    args: PageArgs,
) -> Page[Any]:
    """Run `stmt` (one entity selected) for one page ordered by `key`."""
    _check_size(args.first, "first")
    _check_size(args.last, "last")
    if args.first is not None and args.last is not None:
        raise DomainError.one(
            QueryErrorCode.INVALID_PAGE_SIZE, "pass first or last, not both", "last"
        )
    total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    window = stmt
    if args.after is not None:
        window = window.where(key > decode_cursor(args.after, "after"))
    if args.before is not None:
        window = window.where(key < decode_cursor(args.before, "before"))
    backwards = args.last is not None
    size = next(n for n in (args.last, args.first, DEFAULT_PAGE) if n is not None)
    ordered = window.order_by(key.desc() if backwards else key.asc()).limit(size + 1)
    rows = list((await session.scalars(ordered)).all())
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    keys = [getattr(row, key.key) for row in rows]
    return Page(
        items=rows,
        keys=keys,
        has_next=more if not backwards else args.before is not None,
        has_previous=more if backwards else args.after is not None,
        total=int(total or 0),
    )
