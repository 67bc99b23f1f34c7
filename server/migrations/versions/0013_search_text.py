"""search: a dataset's search body also holds its files' profile `search_text`

Extractors put the words a file is found by into their profile's `search_text` (a PDF's text,
bounded: workers/processing/formats/pdf.py; seismic channel and station codes). The
dataset's search document (its body as 0009 made it: description, keywords, the sorted
column names) gains them: SQLite's triggers and PostgreSQL's functions are recreated with
the longer body, and every dataset's document is rebuilt. Downgrade restores 0009's body.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_SQLITE_TEXT = """
 || ' ' || coalesce((SELECT group_concat(t, ' ') FROM (
      SELECT json_extract(f.profile, '$.search_text') AS t
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id
      WHERE v.dataset_id = r.id AND json_valid(f.profile)
        AND json_type(f.profile, '$.search_text') = 'text'
      ORDER BY f.id)), '')"""

_PG_TEXT = """
 || ' ' || coalesce((SELECT string_agg(f.profile ->> 'search_text', ' ' ORDER BY f.id)
      FROM dataset_versions v JOIN dataset_files f ON f.version_id = v.id
      WHERE v.dataset_id = r.id AND json_typeof(f.profile -> 'search_text') = 'string'), '')"""


def _bodies() -> ModuleType:
    """Migration 0009 (its file name is no Python identifier): its triggers and functions,
    built here from its body with the files' text appended."""
    path = Path(__file__).with_name("0009_search_bodies.py")
    spec = importlib.util.spec_from_file_location("_migration_0009_search_bodies", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._SQLITE_COLUMNS["text"] = module._SQLITE_COLUMNS["new"] + _SQLITE_TEXT
    module._PG_COLUMNS["text"] = module._PG_COLUMNS["new"] + _PG_TEXT
    return module


def upgrade() -> None:
    _bodies()._apply("text")


def downgrade() -> None:
    _bodies()._apply("new")
