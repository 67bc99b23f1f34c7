"""search bodies alike on both databases: a dataset's keywords and the column names of its
files' profiles joined by spaces, the names distinct and in code point order (SQLite's
group_concat joined them by commas in scan order, PostgreSQL's string_agg by spaces in
collation order), so that a hit's highlight reads the same on both (server/search/highlight.py)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_DESCRIPTION = "coalesce(r.description, '')"

_SQLITE_KEYWORDS = (
    " || ' ' || coalesce((SELECT group_concat(k.value, ' ') FROM json_each(r.keywords) k), '')"
)
_SQLITE_COLUMNS = {
    "old": """
 || ' ' || coalesce((SELECT group_concat(DISTINCT json_extract(c.value, '$.name'))
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id,
           json_each(f.profile, '$.columns') c
      WHERE v.dataset_id = r.id AND json_valid(f.profile)), '')""",
    "new": """
 || ' ' || coalesce((SELECT group_concat(n, ' ') FROM (
      SELECT DISTINCT CAST(json_extract(c.value, '$.name') AS TEXT) AS n
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id,
           json_each(f.profile, '$.columns') c
      WHERE v.dataset_id = r.id AND json_valid(f.profile)
        AND json_extract(c.value, '$.name') IS NOT NULL
      ORDER BY n COLLATE BINARY)), '')""",
}
_PG_KEYWORDS = """
 || ' ' || coalesce((SELECT string_agg(k, ' ') FROM json_array_elements_text(
      CASE WHEN json_typeof(r.keywords) = 'array' THEN r.keywords END) k), '')"""
_PG_COLUMNS = {
    "old": """
 || ' ' || coalesce((SELECT string_agg(DISTINCT c ->> 'name', ' ')
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id,
           json_array_elements(CASE WHEN json_typeof(f.profile -> 'columns') = 'array'
                                    THEN f.profile -> 'columns' END) c
      WHERE v.dataset_id = r.id), '')""",
    "new": """
 || ' ' || coalesce((SELECT string_agg(DISTINCT (c ->> 'name') COLLATE "C", ' '
                                       ORDER BY (c ->> 'name') COLLATE "C")
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id,
           json_array_elements(CASE WHEN json_typeof(f.profile -> 'columns') = 'array'
                                    THEN f.profile -> 'columns' END) c
      WHERE v.dataset_id = r.id), '')""",
}
_DATASET_OF = "(SELECT v.dataset_id FROM dataset_versions v WHERE v.id = NEW.version_id)"


def _sqlite_select(which: str, where: str) -> str:
    body = f"({_DESCRIPTION}{_SQLITE_KEYWORDS}{_SQLITE_COLUMNS[which]})"
    return f"SELECT r.id * 4 + 1, r.title, {body}, 'dataset', r.id FROM datasets r WHERE {where}"


def _pg_select(which: str, where: str) -> str:
    body = f"({_DESCRIPTION}{_PG_KEYWORDS}{_PG_COLUMNS[which]})"
    return f"SELECT r.title, {body}, 'dataset', r.id FROM datasets r WHERE {where}"


def _sqlite(which: str) -> None:
    insert = "INSERT INTO search_fts(rowid, title, body, kind, ref_id) "
    for name in ("datasets_ai", "datasets_au", "dataset_files_ai", "dataset_files_au"):
        op.execute(f"DROP TRIGGER IF EXISTS search_{name}")
    op.execute(
        "CREATE TRIGGER search_datasets_ai AFTER INSERT ON datasets BEGIN "
        f"{insert}{_sqlite_select(which, 'r.id = NEW.id')}; END"
    )
    op.execute(
        "CREATE TRIGGER search_datasets_au AFTER UPDATE ON datasets BEGIN "
        "DELETE FROM search_fts WHERE rowid = OLD.id * 4 + 1; "
        f"{insert}{_sqlite_select(which, 'r.id = NEW.id')}; END"
    )
    refresh = (
        f"DELETE FROM search_fts WHERE rowid = {_DATASET_OF} * 4 + 1; "
        f"{insert}{_sqlite_select(which, f'r.id = {_DATASET_OF}')};"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_files_ai AFTER INSERT ON dataset_files "
        f"WHEN NEW.profile IS NOT NULL BEGIN {refresh} END"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_files_au AFTER UPDATE OF profile ON dataset_files "
        f"BEGIN {refresh} END"
    )
    op.execute("DELETE FROM search_fts WHERE rowid IN (SELECT id * 4 + 1 FROM datasets)")
    op.execute(insert + _sqlite_select(which, "1 = 1"))


def _postgres(which: str) -> None:
    insert = "INSERT INTO search_documents (title, body, kind, ref_id) "
    upsert = (
        " ON CONFLICT (kind, ref_id) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION search_index_dataset() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "IF TG_OP = 'DELETE' THEN "
        "DELETE FROM search_documents WHERE kind = 'dataset' AND ref_id = OLD.id; "
        "RETURN OLD; END IF; "
        f"{insert}{_pg_select(which, 'r.id = NEW.id')}{upsert}; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION search_refresh_dataset(did integer) RETURNS void "
        f"LANGUAGE sql AS $$ {insert}{_pg_select(which, 'r.id = did')}{upsert} $$"
    )
    op.execute(insert + _pg_select(which, "true") + upsert)


def _apply(which: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(which)
    else:
        _postgres(which)


def upgrade() -> None:
    _apply("new")


def downgrade() -> None:
    _apply("old")
