"""search: a dataset's search body also holds its files' profile `search_text`

Extractors put the words a file is found by into its profile's `search_text` (a PDF's text,
bounded: workers/processing/formats/pdf.py). The dataset's search document (0006) gains
them: SQLite's triggers and PostgreSQL's functions are recreated with the longer body, and
every dataset's document is rebuilt. Downgrade restores 0006's body.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SQLITE_TEXT = """
 || ' ' || coalesce((SELECT group_concat(json_extract(f.profile, '$.search_text'), ' ')
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id
      WHERE v.dataset_id = r.id AND json_valid(f.profile)
        AND json_type(f.profile, '$.search_text') = 'text'), '')"""

_PG_TEXT = """
 || ' ' || coalesce((SELECT string_agg(f.profile ->> 'search_text', ' ')
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id
      WHERE v.dataset_id = r.id AND json_typeof(f.profile -> 'search_text') = 'string'), '')"""


def _search() -> ModuleType:
    """Migration 0006 (its file name is no Python identifier), for its body expressions."""
    path = Path(__file__).with_name("0006_search.py")
    spec = importlib.util.spec_from_file_location("_migration_0006_search", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _select(dialect: str, where: str, *, text: bool) -> str:
    m = _search()
    title, body = m._FIELDS["dataset"]
    sqlite = dialect == "sqlite"
    extra = m._SQLITE_DATASET_EXTRA if sqlite else m._PG_DATASET_EXTRA
    if text:
        extra += _SQLITE_TEXT if sqlite else _PG_TEXT
    rowid = "r.id * 4 + 1, " if sqlite else ""
    return f"SELECT {rowid}{title}, ({body}{extra}), 'dataset', r.id FROM datasets r WHERE {where}"


def upgrade() -> None:
    _rebuild(text=True)


def downgrade() -> None:
    _rebuild(text=False)


def _rebuild(*, text: bool) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(text=text)
    else:
        _postgres(text=text)


def _sqlite(*, text: bool) -> None:
    insert = "INSERT INTO search_fts(rowid, title, body, kind, ref_id) "
    for trigger in ("datasets_ai", "datasets_au", "dataset_files_ai", "dataset_files_au"):
        op.execute(f"DROP TRIGGER IF EXISTS search_{trigger}")
    op.execute(
        "CREATE TRIGGER search_datasets_ai AFTER INSERT ON datasets BEGIN "
        f"{insert}{_select('sqlite', 'r.id = NEW.id', text=text)}; END"
    )
    op.execute(
        "CREATE TRIGGER search_datasets_au AFTER UPDATE ON datasets BEGIN "
        "DELETE FROM search_fts WHERE rowid = OLD.id * 4 + 1; "
        f"{insert}{_select('sqlite', 'r.id = NEW.id', text=text)}; END"
    )
    dataset_of = "(SELECT v.dataset_id FROM dataset_versions v WHERE v.id = NEW.version_id)"
    refresh = (
        f"DELETE FROM search_fts WHERE rowid = {dataset_of} * 4 + 1; "
        f"{insert}{_select('sqlite', f'r.id = {dataset_of}', text=text)};"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_files_ai AFTER INSERT ON dataset_files "
        f"WHEN NEW.profile IS NOT NULL BEGIN {refresh} END"
    )
    op.execute(
        "CREATE TRIGGER search_dataset_files_au AFTER UPDATE OF profile ON dataset_files "
        f"BEGIN {refresh} END"
    )
    op.execute("DELETE FROM search_fts WHERE kind = 'dataset'")
    op.execute(insert + _select("sqlite", "1 = 1", text=text))


def _postgres(*, text: bool) -> None:
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
        f"{insert}{_select('postgresql', 'r.id = NEW.id', text=text)}{upsert}; "
        "RETURN NEW; END $$"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION search_refresh_dataset(did integer) RETURNS void "
        "LANGUAGE sql AS $$ "
        f"{insert}{_select('postgresql', 'r.id = did', text=text)}{upsert} $$"
    )
    op.execute(insert + _select("postgresql", "true", text=text) + upsert)
