"""The search documents' terms, written by Python on every write (migration 0016).

The SQL triggers of migrations 0006, 0009 and 0013 still gather a row's title and body into
`search_documents`, in the transaction that changed the row; a document whose text is new
has no terms yet (SQLite: terms_title IS NULL; PostgreSQL: document IS NULL, set so by a
trigger when the text changes). `refresh` analyses those documents
(server/search/analysis.py) and writes their terms: SQLite's FTS5 index (search_fts, fed by
triggers on search_documents) and PostgreSQL's tsvector (GIN) then match and rank them.

Since migration 0019 a document also holds its row's language-tagged values (language_texts:
titles, names, acronyms, summaries, descriptions in every language; a dataset's keywords in
every language, dataset_keywords) that its title and body do not hold already: `refresh`
reads them with the document, weighs titles and names as the title, the rest as the body,
and keeps them in search_documents.texts for the hit's highlight. A write to those tables
marks the document as without terms (triggers of 0019), so the next refresh reads them again.

Sessions call it themselves: after each flush and before each commit of a session that
wrote, so the terms are there in the same transaction as the row (`install`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import TextClause, bindparam, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from server.search.analysis import document_terms

MAX_TEXT = 100_000  # characters of a title or body analysed (a tsvector holds at most 1 MB)
MAX_POSITION = 16383  # PostgreSQL's last position
MAX_POSITIONS = 255  # positions kept per lexeme
_WROTE = "search_wrote"


SEPARATOR = "\u241e"  # between two values of one FTS5 column: no query's term, no phrase across

# the fields of language_texts whose values weigh as a title (A); the others as a body (B)
TITLE_FIELDS = frozenset({"title", "name", "acronym"})
# search_documents.kind -> language_texts' owner column
OWNERS = {
    "project": "project_id",
    "dataset": "dataset_id",
    "institution": "institution_id",
    "researcher": "researcher_id",
}
_BATCH = 500


@dataclass(frozen=True)
class Extra:
    """The language-tagged values of a document's row that its title and body do not hold
    already (translations, names in other languages, keywords in each language)."""

    titles: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()

    @property
    def text(self) -> str | None:
        """What search_documents.texts keeps, for the hit's highlight."""
        return "\n".join((*self.titles, *self.bodies)) or None


def tsvector(title: str, body: str, extra: Extra = Extra()) -> str:
    """The tsvector literal of a document: its terms with their positions (phrases), the
    title's (and the title-like language-tagged values') weighted A, the body's B (no parser
    of PostgreSQL sees the terms)."""
    positions: dict[str, list[str]] = defaultdict(list)
    at = 0
    parts = [("A", title), *(("A", t) for t in extra.titles), ("B", body)]
    parts += [("B", b) for b in extra.bodies]
    for weight, part in parts:
        at += 1  # a gap: no phrase runs from one value into the next
        for term in document_terms(part[:MAX_TEXT]):
            at = min(at + 1, MAX_POSITION)
            if len(positions[term]) < MAX_POSITIONS:
                positions[term].append(f"{at}{weight}")
    return " ".join(
        "'" + term.replace("\\", "\\\\").replace("'", "''") + "':" + ",".join(places)
        for term, places in positions.items()
    )


def stream(part: str, *more: str) -> str:
    """The terms of a text as FTS5's ascii tokenizer reads them back: separated by spaces
    (and a separator between the values of `more`, so that no phrase runs across two)."""
    streams = [" ".join(document_terms(p[:MAX_TEXT])) for p in (part, *more)]
    return f" {SEPARATOR} ".join(s for s in streams if s)


def _extras(connection: Connection, refs: Sequence[tuple[str, int, str, str]]) -> dict[Any, Extra]:
    """The Extra of each document (kind, ref_id, title, body): its row's language_texts and,
    for a dataset, its keywords in each language, those its title and body hold left out."""
    found: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
    ids: dict[str, list[int]] = defaultdict(list)
    for kind, ref_id, _, _ in refs:
        if kind in OWNERS:
            ids[kind].append(ref_id)
    for kind, owned in ids.items():
        column = OWNERS[kind]
        for start in range(0, len(owned), _BATCH):
            batch = owned[start : start + _BATCH]
            rows = list(
                connection.execute(
                    text(
                        f"SELECT {column}, field, value FROM language_texts"
                        f" WHERE {column} IN :ids ORDER BY {column}, position, id"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": batch},
                ).all()
            )
            if kind == "dataset":
                rows += connection.execute(
                    text(
                        "SELECT dataset_id, 'keyword', value FROM dataset_keywords"
                        " WHERE dataset_id IN :ids ORDER BY dataset_id, position, id"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": batch},
                ).all()
            for ref_id, field, value in rows:
                titles, bodies = found.setdefault((kind, ref_id), ([], []))
                (titles if field in TITLE_FIELDS else bodies).append(value)
    extras = {}
    for kind, ref_id, title, body in refs:
        titles, bodies = found.get((kind, ref_id), ([], []))
        held = f"{title or ''}\n{body or ''}"
        kept: list[str] = []
        for value in (*titles, *bodies):
            if value not in held and value not in kept:
                kept.append(value)
        extras[(kind, ref_id)] = Extra(
            tuple(v for v in kept if v in titles), tuple(v for v in kept if v not in titles)
        )
    return extras


def refresh(connection: Connection, *, texts: bool = True) -> int:
    """Analyse the documents that have no terms yet; how many there were. `texts`: with the
    rows' language-tagged values (migration 0019; False for the migrations before it)."""
    pg = connection.dialect.name == "postgresql"
    if pg:
        select_sql = "SELECT kind, ref_id, title, body FROM search_documents WHERE document IS NULL"
    else:
        select_sql = (
            "SELECT kind, ref_id, title, body, id FROM search_documents WHERE terms_title IS NULL"
        )
    rows = connection.execute(text(select_sql)).all()
    if not rows:
        return 0
    refs = [(k, r, t or "", b or "") for k, r, t, b, *_ in rows]
    extras = _extras(connection, refs) if texts else {}
    if pg:
        set_texts = ", texts = :texts" if texts else ""
        connection.execute(
            text(
                f"UPDATE search_documents SET document = CAST(:document AS tsvector){set_texts}"
                " WHERE kind = :kind AND ref_id = :ref_id"
            ),
            [
                {
                    "kind": k,
                    "ref_id": r,
                    "document": tsvector(t, b, extra := extras.get((k, r), Extra())),
                    "texts": extra.text,
                }
                for k, r, t, b in refs
            ],
        )
        return len(rows)
    set_texts = ", texts = :texts" if texts else ""
    connection.execute(
        text(
            f"UPDATE search_documents SET terms_title = :t, terms_body = :b{set_texts}"
            " WHERE id = :id"
        ),
        [
            {
                "id": row[4],
                "t": stream(t, *(extra := extras.get((k, r), Extra())).titles),
                "b": stream(b, *extra.bodies),
                "texts": extra.text,
            }
            for row, (k, r, t, b) in zip(rows, refs, strict=True)
        ],
    )
    return len(rows)


# the tables whose triggers (0006, 0009, 0013, 0016, 0019) write search_documents: a write to
# any other (a token's last use, an audit row, ...) leaves every document as it was
# (tests/server/test_search_sources.py compares it with the triggers of both databases)
SOURCES = frozenset(
    {
        "projects",
        "datasets",
        "institutions",
        "researchers",
        "dataset_files",
        "search_documents",
        "language_texts",
        "dataset_keywords",
    }
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
