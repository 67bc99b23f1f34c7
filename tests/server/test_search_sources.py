"""server.search.documents.SOURCES (the tables whose writes make a session refresh the search
documents) is the set of tables that carry a trigger writing the search documents, on each
database as its migrations leave it: a trigger added without its table in SOURCES (its writes
would leave documents without terms until another write) or a table left in SOURCES without
its trigger fails here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from server.search.documents import SOURCES

# SQLite: a trigger's own SQL names the table it writes
SQLITE = (
    "SELECT DISTINCT tbl_name FROM sqlite_master WHERE type = 'trigger'"
    " AND (sql LIKE '%search_documents%' OR sql LIKE '%search_fts%')"
)
# PostgreSQL: a trigger's function writes it, or calls a function that does, or is one of
# the search's own (search_documents_stale, on search_documents itself, sets NEW.document)
PG_WRITERS = "SELECT proname FROM pg_proc WHERE prosrc LIKE '%search_documents%'"
PG_TRIGGERS = """SELECT DISTINCT c.relname, p.proname, p.prosrc FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
  WHERE NOT t.tgisinternal"""


async def tables_writing_search(connection: Any, dialect: str) -> set[str]:
    if dialect == "sqlite":
        return set((await connection.execute(text(SQLITE))).scalars())
    writers = set((await connection.execute(text(PG_WRITERS))).scalars())
    return {
        table
        for table, function, source in (await connection.execute(text(PG_TRIGGERS))).all()
        if function.startswith("search_")
        or "search_documents" in source
        or any(f"{name}(" in source for name in writers)
    }


async def test_sources_are_the_tables_with_search_triggers(connection: Any, dialect: str) -> None:
    found = await tables_writing_search(connection, dialect)
    assert {"language_texts", "dataset_keywords", "dataset_files"} <= found  # the query sees them
    assert found == SOURCES
