"""Reading a version's files as folders: a keyset page of its files under a path prefix (of
one format), and the immediate sub-folders of a prefix with their file counts and bytes.

The filter is one rule for both read paths (strawberry's loader here, the compiled path in
schema/compiled/roots.py): `file_filter` gives its SQL over any alias of dataset_files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from server.core.errors import DomainError, QueryErrorCode
from server.core.pagination import DEFAULT_PAGE, Page, decode_cursor
from server.models import DatasetFile

MAX_FILES_PAGE = 1000  # a version's file listing, a page at most as long as S3's listings
# (10,000 files listed for a manifest check: 10 requests, not 100)


@dataclass(frozen=True)
class FilePage:
    """What `files(first, after, prefix, format)` asks of each version."""

    first: int | None = None
    after: str | None = None
    prefix: str | None = None
    format: str | None = None

    def size(self) -> int:
        if self.first is not None and not 0 <= self.first <= MAX_FILES_PAGE:
            raise DomainError.one(
                QueryErrorCode.INVALID_PAGE_SIZE,
                f"first must be between 0 and {MAX_FILES_PAGE}",
                "first",
            )
        return DEFAULT_PAGE if self.first is None else self.first

    def after_key(self) -> int | None:
        return decode_cursor(self.after, "after") if self.after is not None else None


def file_filter(file: Any, prefix: str | None, fmt: str | None) -> ColumnElement[bool]:
    """The files whose path starts with `prefix` (exactly, case and all: `substr`, not
    LIKE, whose case rules differ between SQLite and PostgreSQL) and of format `fmt`."""
    clauses: list[ColumnElement[bool]] = []
    if prefix:
        clauses.append(func.substr(file.path, 1, len(prefix)) == prefix)
    if fmt is not None:
        clauses.append(file.format == fmt)
    return and_(true(), *clauses)


async def file_pages(
    session: AsyncSession, keys: Sequence[tuple[int, FilePage]]
) -> dict[tuple[int, FilePage], Page[DatasetFile]]:
    """A page of files per (version, page asked), in id order: one statement for the rows
    and one for the totals per distinct page asked (a list of versions asks alike)."""
    out: dict[tuple[int, FilePage], Page[DatasetFile]] = {}
    for page in dict.fromkeys(p for _, p in keys):
        version_ids = sorted({v for v, p in keys if p == page})
        out.update(await _pages(session, version_ids, page))
    return out


async def _pages(
    session: AsyncSession, version_ids: list[int], page: FilePage
) -> dict[tuple[int, FilePage], Page[DatasetFile]]:
    size, after = page.size(), page.after_key()
    matching = and_(
        DatasetFile.version_id.in_(version_ids), file_filter(DatasetFile, page.prefix, page.format)
    )
    totals = dict(
        (
            await session.execute(
                select(DatasetFile.version_id, func.count())
                .where(matching)
                .group_by(DatasetFile.version_id)
            )
        ).all()
    )
    window = matching if after is None else and_(matching, DatasetFile.id > after)
    rank = func.row_number().over(partition_by=DatasetFile.version_id, order_by=DatasetFile.id)
    ranked = select(DatasetFile, rank.label("rank")).where(window).subquery()
    file = aliased(DatasetFile, ranked)
    rows = (
        await session.scalars(select(file).where(ranked.c.rank <= size + 1).order_by(file.id))
    ).all()
    by_version: dict[int, list[DatasetFile]] = {v: [] for v in version_ids}
    for row in rows:
        by_version[row.version_id].append(row)
    out = {}
    for version_id, found in by_version.items():
        items = found[:size]
        out[(version_id, page)] = Page(
            items=items,
            keys=[f.id for f in items],
            has_next=len(found) > size,
            has_previous=after is not None,
            total=int(totals.get(version_id, 0)),
        )
    return out


@dataclass(frozen=True)
class Folder:
    name: str
    path: str  # with its trailing slash
    file_count: int
    byte_size: int


def folder_prefix(prefix: str | None) -> str:
    """A folder's prefix: "" for the top, else ending with one slash."""
    text = (prefix or "").strip("/")
    return f"{text}/" if text else ""


async def folders(session: AsyncSession, version_id: int, prefix: str | None) -> list[Folder]:
    """The folders right under `prefix` (a folder) with every file below them counted."""
    base = folder_prefix(prefix)
    rest = func.substr(DatasetFile.path, len(base) + 1)
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    slash = func.strpos(rest, "/") if dialect == "postgresql" else func.instr(rest, "/")
    name = func.substr(rest, 1, slash - 1).label("name")
    rows = await session.execute(
        select(name, func.count(), func.sum(DatasetFile.size))
        .where(
            DatasetFile.version_id == version_id,
            file_filter(DatasetFile, base, None),
            slash > 0,
        )
        .group_by(name)
    )
    found = sorted(rows.all(), key=lambda r: str(r[0]))  # code point order on both databases
    return [Folder(n, f"{base}{n}/", int(c), int(b or 0)) for n, c, b in found]
