"""search: a file rebuilds its dataset's search document only when its profile adds words

A dataset's search body is its description and keywords, the distinct column names of its
files' profiles and their `search_text`s (0009, 0013). The triggers on dataset_files rebuilt
it for every file inserted with a profile, reading every file of the dataset: a folder of N
files cost N rebuilds of up to N files each (measured on SQLite: 80 ms to insert 50 files
into a dataset of 2,000). A file whose profile has no `columns` and no `search_text` adds
nothing to that body, so it no longer rebuilds it; an updated profile rebuilds it when the
old profile or the new one could add words. What the body holds is unchanged.

SQLite: the two triggers are made again from their own text with the new WHEN clause.
PostgreSQL: the row trigger's function checks the same. Downgrade restores both.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def _sqlite_adds(row: str) -> str:
    # json_valid first: the body's queries skip a profile that is not JSON
    return (
        f"(CASE WHEN json_valid({row}.profile) THEN "
        f"json_type({row}.profile, '$.columns') IS NOT NULL "
        f"OR json_type({row}.profile, '$.search_text') = 'text' ELSE 0 END)"
    )


_SQLITE_HEADS = {
    "search_dataset_files_ai": (
        "AFTER INSERT ON dataset_files WHEN NEW.profile IS NOT NULL BEGIN",
        f"AFTER INSERT ON dataset_files WHEN {_sqlite_adds('NEW')} BEGIN",
    ),
    "search_dataset_files_au": (
        "AFTER UPDATE OF profile ON dataset_files BEGIN",
        f"AFTER UPDATE OF profile ON dataset_files WHEN {_sqlite_adds('NEW')} "
        f"OR {_sqlite_adds('OLD')} BEGIN",
    ),
}


def _pg_adds(row: str) -> str:
    return (
        f"coalesce(json_typeof({row}.profile -> 'columns') = 'array' "
        f"OR json_typeof({row}.profile -> 'search_text') = 'string', false)"
    )


def _pg_function(condition: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION search_index_dataset_file() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN IF {condition} THEN PERFORM search_refresh_dataset("
        "(SELECT v.dataset_id FROM dataset_versions v WHERE v.id = NEW.version_id)); END IF; "
        "RETURN NEW; END $$"
    )


_PG_OLD = "NEW.profile IS NOT NULL"
_PG_NEW = f"{_pg_adds('NEW')} OR (TG_OP = 'UPDATE' AND {_pg_adds('OLD')})"


def _sqlite(upgrade: bool) -> None:
    bind = op.get_bind()
    for name, (old, new) in _SQLITE_HEADS.items():
        sql = bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
        ).scalar_one()
        before, after = (old, new) if upgrade else (new, old)
        if before not in sql:
            raise RuntimeError(f"trigger {name} is not as migration 0025 expects: {sql[:200]}")
        op.execute(f"DROP TRIGGER {name}")
        op.execute(sql.replace(before, after, 1))


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(upgrade=True)
    else:
        op.execute(_pg_function(_PG_NEW))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(upgrade=False)
    else:
        op.execute(_pg_function(_PG_OLD))
