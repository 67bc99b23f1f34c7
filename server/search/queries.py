"""Full-text search: PostgreSQL tsvector (GIN) or SQLite FTS5, behind one interface.

The documents' text is gathered by triggers (migrations 0006, 0009, 0013), with their rows'
language-tagged values (titles, names, summaries, descriptions and keywords in every
language: 0019), their terms made by Python's analyser on write (server/search/documents.py,
analysis.py; migration 0016). A
query is analysed by the same rules into terms, each matching as a prefix, all required; the
databases match and rank. Terms side by side first: when some document holds a query's terms
in a row, in order (a phrase: 東京大学's bigrams, Thai words, Vietnamese syllables, 'rainfall
radar'), only those match; else every document that holds them all, anywhere. Access:
projects and datasets through server/access/visibility.py, in SQL.
"""

from __future__ import annotations

import base64
import binascii
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Select,
    and_,
    cast,
    column,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import dataset_visible, project_visible
from server.core.errors import Collector, DomainError, QueryErrorCode
from server.models import Dataset, Project
from server.search.analysis import query_terms, words
from server.search.documents import refresh_session
from server.search.errors import SearchErrorCode
from server.search.highlight import highlight

MAX_QUERY_LENGTH = 200
MAX_TERMS = 16
MAX_FIRST = 50
MAX_OFFSET = 1000
DEFAULT_FIRST = 20
_CURSOR_PREFIX = "s1:"


def mapped_name(name: str | None, type_: str, _parents: Any) -> bool:
    """For Alembic's comparison: the search tables (FTS5's and R*Tree's shadow tables too)
    and indexes are kept by the migrations' triggers and DDL (0006, 0009, 0016), not by
    models."""
    kept = type_ in ("table", "index") and name is not None and name.startswith("search_")
    return not kept


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


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if raw.startswith(_CURSOR_PREFIX):
            offset = int(raw[len(_CURSOR_PREFIX) :])
            if 0 < offset <= MAX_OFFSET:
                return offset
    except (binascii.Error, UnicodeError, ValueError):
        pass
    raise DomainError.one(
        QueryErrorCode.INVALID_CURSOR, "after is not a cursor of this search", "after"
    )


def _check(query: str, first: int | None, after: str | None) -> tuple[list[str], int, int]:
    errors = Collector()
    terms = query_terms(query) if len(query) <= MAX_QUERY_LENGTH else []
    if len(query) > MAX_QUERY_LENGTH:
        errors.add(
            SearchErrorCode.INVALID_QUERY,
            f"query is longer than {MAX_QUERY_LENGTH} characters",
            "query",
        )
    elif not terms:
        errors.add(SearchErrorCode.INVALID_QUERY, "query holds no word to search for", "query")
    elif len(words(query)) > MAX_TERMS:
        errors.add(SearchErrorCode.INVALID_QUERY, f"query has more than {MAX_TERMS} words", "query")
    size = DEFAULT_FIRST if first is None else first
    if not 0 <= size <= MAX_FIRST:
        errors.add(
            QueryErrorCode.INVALID_PAGE_SIZE, f"first must be between 0 and {MAX_FIRST}", "first"
        )
    errors.raise_if_any()
    offset = decode_cursor(after) if after is not None else 0
    return terms, size, offset


def _access(kind: SearchType, principal: Principal, ref_id: Any) -> Select[Any] | None:
    """The ids of `kind` the principal may see, or None when all are visible (the triggers
    drop a row's document with the row: every document has its row)."""
    if principal.is_staff:  # staff see every project and every dataset's metadata
        return None
    if kind is SearchType.PROJECT:
        return select(Project.id).where(Project.id == ref_id, project_visible(principal))
    if kind is SearchType.DATASET:
        return select(Dataset.id).where(Dataset.id == ref_id, dataset_visible(principal))
    return None


async def search(
    session: AsyncSession,
    principal: Principal,
    query: str,
    types: Sequence[SearchType],
    first: int | None,
    after: str | None,
) -> Results:
    terms, size, offset = _check(query, first, after)
    kinds = list(dict.fromkeys(types)) or list(SearchType)
    await session.run_sync(refresh_session)  # this session's own writes, not yet flushed
    backend = _Postgres() if session.get_bind().dialect.name == "postgresql" else _Sqlite()
    phrase = len(terms) > 1 and await _any(session, backend.where(terms, kinds, principal, True))
    matches = backend.matches(terms, kinds, principal, phrase).subquery("matches")
    page = (
        select(matches)
        .order_by(matches.c.rank.desc(), matches.c.kind, matches.c.ref_id)
        .limit(size + 1)
        .offset(offset)
        .subquery("page")
    )
    rows = (await session.execute(backend.highlighted(page))).all()
    if rows and rows[0].total is not None:
        total = int(rows[0].total)
    else:  # SQLite, or past the last page: count on its own
        total = await session.scalar(select(func.count()).select_from(matches)) or 0
    hits = [
        Hit(
            type=SearchType(kind),
            id=ref_id,
            rank=round(float(rank), 6),
            highlight=highlight(title, body, terms, texts),
            cursor=encode_cursor(offset + i + 1),
        )
        for i, (kind, ref_id, rank, title, body, texts, _) in enumerate(rows[:size])
    ]
    return Results(hits=hits, total=total, offset=offset, has_next=len(rows) > size)


async def _any(session: AsyncSession, where: Select[Any]) -> bool:
    return (await session.execute(where.limit(1))).first() is not None


# ---- backends ------------------------------------------------------------------------------

_documents = table(
    "search_documents",
    column("id", Integer),
    column("kind"),
    column("ref_id", Integer),
    column("title"),
    column("body"),
    column("texts"),
    column("document"),
)
_fts = table("search_fts", column("rowid", Integer))


def _visible(kinds: list[SearchType], principal: Principal, kind_col: Any, id_col: Any) -> Any:
    clauses = []
    for kind in kinds:
        rule = _access(kind, principal, id_col)
        clauses.append(
            kind_col == kind.value if rule is None else and_(kind_col == kind.value, exists(rule))
        )
    return or_(*clauses)


class _Postgres:
    def _tsquery(self, terms: list[str], phrase: bool) -> Any:
        # each term a quoted prefix lexeme, read as a tsquery literal: no parser of PostgreSQL
        # cuts the analyser's terms again, no operator of the user reaches it
        quoted = ("'" + t.replace("\\", "\\\\").replace("'", "''") + "':*" for t in terms)
        return cast(literal((" <-> " if phrase else " & ").join(quoted)), TSQUERY)

    def where(
        self, terms: list[str], kinds: list[SearchType], principal: Principal, phrase: bool
    ) -> Select[Any]:
        """The documents that match, unranked."""
        d, q = _documents, self._tsquery(terms, phrase)
        return select(d.c.ref_id).where(
            d.c.document.op("@@")(q), _visible(kinds, principal, d.c.kind, d.c.ref_id)
        )

    def matches(
        self, terms: list[str], kinds: list[SearchType], principal: Principal, phrase: bool
    ) -> Select[Any]:
        d, q = _documents, self._tsquery(terms, phrase)
        rank = cast(func.ts_rank(d.c.document, q, 1), Float).label("rank")
        # the count of all matches in the same pass (no second query for totalCount)
        total = func.count().over().label("total")
        return select(d.c.kind, d.c.ref_id, rank, total).where(
            d.c.document.op("@@")(q), _visible(kinds, principal, d.c.kind, d.c.ref_id)
        )

    def highlighted(self, page: Any) -> Select[Any]:
        d = _documents
        return (
            select(
                page.c.kind,
                page.c.ref_id,
                page.c.rank,
                d.c.title,
                d.c.body,
                d.c.texts,
                page.c.total,
            )
            .join(d, (d.c.kind == page.c.kind) & (d.c.ref_id == page.c.ref_id))
            .order_by(page.c.rank.desc(), page.c.kind, page.c.ref_id)
        )


class _Sqlite:
    def _match(self, terms: list[str], phrase: bool) -> str:
        return (" + " if phrase else " ").join('"' + t.replace('"', '""') + '"*' for t in terms)

    def where(
        self, terms: list[str], kinds: list[SearchType], principal: Principal, phrase: bool
    ) -> Select[Any]:
        """The documents that match, unranked."""
        d, f = _documents, _fts
        return (
            select(d.c.ref_id)
            .select_from(f.join(d, d.c.id == f.c.rowid))
            .where(
                literal_column("search_fts").op("MATCH")(self._match(terms, phrase)),
                _visible(kinds, principal, d.c.kind, d.c.ref_id),
            )
        )

    def matches(
        self, terms: list[str], kinds: list[SearchType], principal: Principal, phrase: bool
    ) -> Select[Any]:
        d, f = _documents, _fts
        # bm25: lower is better; title matches weigh five times the body's
        rank = (-func.bm25(literal_column("search_fts"), 5.0, 1.0)).label("rank")
        return (
            select(d.c.kind, d.c.ref_id, rank, d.c.title, d.c.body, d.c.texts)
            .select_from(f.join(d, d.c.id == f.c.rowid))
            .where(
                literal_column("search_fts").op("MATCH")(self._match(terms, phrase)),
                _visible(kinds, principal, d.c.kind, d.c.ref_id),
            )
        )

    def highlighted(self, page: Any) -> Select[Any]:
        # FTS5's bm25() may not run beside a window function: the count is its own query
        return select(
            page.c.kind,
            page.c.ref_id,
            page.c.rank,
            page.c.title,
            page.c.body,
            page.c.texts,
            null().label("total"),
        ).order_by(page.c.rank.desc(), page.c.kind, page.c.ref_id)
