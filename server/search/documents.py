"""The search documents' terms, written by Python on every write (migration 0016).

The SQL triggers of migrations 0006, 0009 and 0013 still gather a row's title and body into
`search_documents`, in the transaction that changed the row; a document whose text is new
has no terms yet (SQLite: terms_title IS NULL; PostgreSQL: document IS NULL, set so by a
trigger when the text changes). `refresh` analyses those documents
(server/search/analysis.py) and writes their terms: SQLite's FTS5 index (search_fts, fed by
triggers on search_documents) and PostgreSQL's tsvector (GIN) then match and rank them.

Sessions call it themselves: after each flush and before each commit of a session that
wrote, so the terms are there in the same transaction as the row (`install`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import TextClause, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from server.search.analysis import document_terms

MAX_TEXT = 100_000  # characters of a title or body analysed (a tsvector holds at most 1 MB)
MAX_POSITION = 16383  # PostgreSQL's last position
MAX_POSITIONS = 255  # positions kept per lexeme
_WROTE = "search_wrote"


def tsvector(title: str, body: str) -> str:
    """The tsvector literal of a document: its terms with their positions (phrases), the
    title's weighted A, the body's B (no parser of PostgreSQL sees the terms)."""
    positions: dict[str, list[str]] = defaultdict(list)
    at = 0
    for weight, part in (("A", title), ("B", body)):
        at += 1  # a gap: no phrase runs from the title into the body
        for term in document_terms(part[:MAX_TEXT]):
            at = min(at + 1, MAX_POSITION)
            if len(positions[term]) < MAX_POSITIONS:
                positions[term].append(f"{at}{weight}")
    return " ".join(
        "'" + term.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(places)
        for term, places in positions.items()
    )


def stream(part: str) -> str:
    """The terms of a text as FTS5's ascii tokenizer reads them back: separated by spaces."""
    return " ".join(document_terms(part[:MAX_TEXT]))


def refresh(connection: Connection) -> int:
    """Analyse the documents that have no terms yet; how many there were."""
    if connection.dialect.name == "postgresql":
        rows = connection.execute(
            text("SELECT kind, ref_id, title, body FROM search_documents WHERE document IS NULL")
        ).all()
        if rows:
            connection.execute(
                text(
                    "UPDATE search_documents SET document = CAST(:document AS tsvector) "
                    "WHERE kind = :kind AND ref_id = :ref_id"
                ),
                [
                    {"kind": k, "ref_id": r, "document": tsvector(t or "", b or "")}
                    for k, r, t, b in rows
                ],
            )
        return len(rows)
    rows = connection.execute(
        text("SELECT id, title, body FROM search_documents WHERE terms_title IS NULL")
    ).all()
    if rows:
        connection.execute(
            text("UPDATE search_documents SET terms_title = :t, terms_body = :b WHERE id = :id"),
            [{"id": i, "t": stream(t or ""), "b": stream(b or "")} for i, t, b in rows],
        )
    return len(rows)


# the tables whose triggers (0006, 0009, 0013, 0016) write search_documents: a write to any
# other (a token's last use, an audit row, ...) leaves every document as it was
SOURCES = frozenset(
    {"projects", "datasets", "institutions", "researchers", "dataset_files", "search_documents"}
)


def _flushing(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(type(obj), "__tablename__", None)
        if table is None or table in SOURCES:
            session.info[_WROTE] = True
            return


_READS = ("SELECT", "WITH", "SHOW", "SET", "PRAGMA", "EXPLAIN")


def _executing(state: ORMExecuteState) -> None:
    statement = state.statement
    if isinstance(statement, TextClause):
        words = statement.text.split(None, 1)
        sql = statement.text.lower()
        wrote = bool(words) and words[0].upper() not in _READS
        wrote = wrote and any(table in sql for table in SOURCES)
    elif state.is_insert or state.is_update or state.is_delete:
        table = getattr(getattr(statement, "table", None), "name", None)
        wrote = table is None or table in SOURCES
    else:
        wrote = False
    if wrote:
        state.session.info[_WROTE] = True


def refresh_session(session: Session, *_: Any) -> None:
    """Analyse the documents a session's writes left without terms (a no-op otherwise)."""
    if session.info.pop(_WROTE, False):
        refresh(session.connection())


def install() -> None:
    """Every session refreshes the search documents after its writes (idempotent)."""
    for name, listener in (
        ("before_flush", _flushing),
        ("do_orm_execute", _executing),
        ("after_flush", refresh_session),
        ("before_commit", refresh_session),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


install()
