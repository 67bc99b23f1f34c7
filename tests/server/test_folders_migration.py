"""Migration 0018 gives every file and upload a path (its name) and a case-folded key, on
SQLite and PostgreSQL: no row is lost, not even names of one version that differed only by
case before, nor the artifacts and fixity checks of the files; going down keeps them too."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from server.migrations import downgrade, upgrade
from server.models.datasets import path_key
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, ROWS
from tests.server.test_quarantine_migration import _run, _upload

BEFORE = "0017"
NAMES = ["levels.csv", "Levels.CSV", "notes.txt"]  # the first two differ only by case


def _file(file_id: int, name: str) -> str:
    upload = file_id if file_id <= len(NAMES) else "NULL"
    return (
        "INSERT INTO dataset_files (id, version_id, upload_id, name, size, sha256, raw_key,"
        f" created_at) VALUES ({file_id}, 1, {upload}, '{name}', 5, '{'0' * 64}', 'k/{file_id}',"
        f" '{NOW}')"
    )


def _artifact(file_id: int) -> str:
    return (
        "INSERT INTO artifacts (file_id, kind, bucket, key, size, sha256, created_at)"
        f" VALUES ({file_id}, 'preview', 'derived', 'p/{file_id}', 3, '{'1' * 64}', '{NOW}')"
    )


def check(url: str) -> None:
    upgrade(url, BEFORE)
    uploads = [_upload(i + 1, "ready") for i in range(len(NAMES))]
    files = [_file(i + 1, name) for i, name in enumerate(NAMES)]
    _run(url, ROWS + uploads + files + [_artifact(1), _artifact(2)])
    upgrade(url, "0018")
    rows = _run(url, [], "SELECT id, name, path, path_key FROM dataset_files ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in rows] == [(i + 1, n, n) for i, n in enumerate(NAMES)]
    keys = [r[3] for r in rows]
    assert keys[0] == path_key("levels.csv") and keys[2] == path_key("notes.txt")
    assert keys[1] != keys[0]  # the old clash kept, with a key of its own
    paths = _run(url, [], "SELECT path, path_key FROM uploads ORDER BY id")
    assert [tuple(p) for p in paths] == [(f"f{i}", path_key(f"f{i}")) for i in (1, 2, 3)]
    assert _run(url, [], "SELECT count(*) FROM artifacts")[0][0] == 2
    # two folders may hold the same name now; a case clash may not
    same_name = _file(4, "log.csv").replace("'k/4'", "'k/4'")
    _run(
        url,
        [
            same_name.replace("name,", "name, path, path_key,").replace(
                "'log.csv',", f"'log.csv', 'a/log.csv', '{path_key('a/log.csv')}',"
            )
        ],
    )
    _run(
        url,
        [
            _file(5, "log.csv")
            .replace("name,", "name, path, path_key,")
            .replace("'log.csv',", f"'log.csv', 'b/log.csv', '{path_key('b/log.csv')}',")
        ],
    )
    with pytest.raises(IntegrityError):
        _run(
            url,
            [
                _file(6, "x")
                .replace("name,", "name, path, path_key,")
                .replace("'x',", f"'x', 'A/LOG.csv', '{path_key('A/LOG.csv')}',")
            ],
        )
    downgrade(url, BEFORE)
    rows = _run(url, [], "SELECT id, name FROM dataset_files ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (1, "levels.csv"),
        (2, "Levels.CSV"),
        (3, "notes.txt"),
        (4, "a/log.csv"),
        (5, "b/log.csv"),
    ]
    assert _run(url, [], "SELECT count(*) FROM artifacts")[0][0] == 2
    upgrade(url)


def test_sqlite_folders_migration(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")


@pytest.mark.postgres
def test_postgres_folders_migration() -> None:
    with postgres_database("satreps_folders") as url:
        check(url)


def test_sqlite_table_copies_keep_the_rows_that_refer_to_them(tmp_path: Path) -> None:
    """SQLite migrations run with foreign keys off (server/migrations/env.py): 0015's batch
    copy of uploads failed on any database with a processed file (dropping the old table
    deleted its rows first, which dataset_files refers to), and a copy of dataset_files
    would have cascaded to artifacts."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fk.db'}"
    upgrade(url, "0014")
    _run(url, [*ROWS, _upload(1, "ready"), _file(1, "a.csv"), _artifact(1)])
    upgrade(url)
    assert _run(url, [], "SELECT count(*) FROM artifacts")[0][0] == 1
    assert _run(url, [], "SELECT upload_id, path FROM dataset_files") == [(1, "a.csv")]
    with pytest.raises(IntegrityError):  # foreign keys are on again once migrated
        _run(
            url,
            [
                "INSERT INTO artifacts (file_id, kind, bucket, key, size, sha256,"
                f" created_at) VALUES (99, 'x', 'b', 'k', 1, '{'1' * 64}', '{NOW}')"
            ],
        )
