"""Migration 0009 reads the coverage of files processed before it from their stored
profiles, unites it into their versions and datasets, and goes back down cleanly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from server.core.db import make_engine
from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_migrations import in_thread

NOW = "2026-01-01 00:00:00"
PROFILES = [
    # a file of the Mekong (from an extractor's agreed shape) and one of Fiji, across 180
    {
        "coverage": {
            "bbox": [100.09, 10.03, 106.02, 20.27],
            "time_start": "2020-01-01T00:00:00Z",
            "time_end": "2021-12-31T00:00:00Z",
        }
    },
    {
        "coverage": {
            "bbox": [178.44, -18.23, -178.8, -16.43],
            "time_start": None,
            "time_end": "2024-06-30T00:00:00+00:00",
        }
    },
    {"rows": 3, "columns": []},  # a table of before: no coverage
]
ROWS = [
    "INSERT INTO institutions (id, name_en, country_code, kind, created_at, updated_at)"
    f" VALUES (1, 'Inst', 'TH', 'university', '{NOW}', '{NOW}')",
    f"INSERT INTO projects (id, title, phase, created_at, updated_at)"
    f" VALUES (1, 'P', 'implementation', '{NOW}', '{NOW}')",
    "INSERT INTO datasets (id, project_id, owner_institution_id, title, keywords, licence,"
    f" access_level, created_at, updated_at) VALUES (1, 1, 1, 'D', '[]', 'CC-BY-4.0', 'public',"
    f" '{NOW}', '{NOW}')",
    "INSERT INTO dataset_versions (id, dataset_id, number, state, created_at)"
    f" VALUES (1, 1, 1, 'draft', '{NOW}')",
]


def _run(url: str, statements: list[str], query: str | None = None) -> Any:
    async def go() -> Any:
        engine = make_engine(url)
        async with engine.begin() as conn:
            for sql in statements:
                await conn.execute(text(sql))
            result = (await conn.execute(text(query))).all() if query else None
        await engine.dispose()
        return result

    return in_thread(go)


BEFORE = "0010"  # the revision before the coverage migration


def backfill(url: str) -> None:
    upgrade(url, BEFORE)
    files = [
        f"INSERT INTO dataset_files (id, version_id, name, size, sha256, raw_key, created_at,"
        f" profile) VALUES ({i + 1}, 1, 'f{i}', 1, '{'0' * 64}', 'k{i}', '{NOW}',"
        f" '{json.dumps(p)}')"
        for i, p in enumerate(PROFILES)
    ]
    _run(url, ROWS + files)
    upgrade(url)
    cols = "west, south, east, north, time_start IS NOT NULL, time_end IS NOT NULL"
    got = _run(url, [], f"SELECT {cols} FROM dataset_files ORDER BY id")
    assert [tuple(r) for r in got] == [
        (100.09, 10.03, 106.02, 20.27, True, True),
        (178.44, -18.23, -178.8, -16.43, False, True),
        (None, None, None, None, False, False),
    ]
    # the union: from the Mekong eastwards across 180 to Lakeba (the shorter way round)
    for table in ("dataset_versions", "datasets"):
        row = _run(url, [], f"SELECT {cols}, bbox_source, time_source FROM {table}")[0]
        assert tuple(row) == (100.09, -18.23, -178.8, 20.27, True, True, "data", "data")
    downgrade(url, BEFORE)
    upgrade(url)


def test_sqlite_backfill(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    backfill(url)
    # the R*Tree holds the backfilled dataset: its box runs past 180 there
    row = _run(url, [], "SELECT id, min_x, max_x FROM search_dataset_coverage")
    assert [r[0] for r in row] == [1] and row[0][1] < 100.1 and row[0][2] > 181


@pytest.mark.postgres
def test_postgres_backfill() -> None:
    with postgres_database("satreps_coverage") as url:
        backfill(url)
