"""Migration 0019 on SQLite and PostgreSQL: every keyword of the JSON column becomes a row of
dataset_keywords (in order, each once, in the language of the dataset's title's original,
else `und`), and every search document is analysed again with its row's language-tagged
values (a Japanese title added as a translation is found by a bigram of it); down, the table
and the texts go (the column keeps every keyword, the terms lose the translation), and up
again everything comes back the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, _run

BEFORE = "0018"
DATASETS = [
    (1, '["flood", "洪水", "flood", ""]'),  # twice and blank: each once, the blank left out
    (2, "[]"),
    (3, '["rain", "雨"]'),  # its title's original is in ja
    (4, "null"),
]


def _rows() -> list[str]:
    rows = [
        "INSERT INTO institutions (id, name_en, country_code, kind, created_at, updated_at)"
        f" VALUES (1, 'Inst', 'JP', 'university', '{NOW}', '{NOW}')",
        "INSERT INTO projects (id, title, phase, created_at, updated_at)"
        f" VALUES (1, 'Flood forecasting', 'implementation', '{NOW}', '{NOW}')",
        "INSERT INTO language_texts (project_id, field, lang, value, original, translated,"
        " position) VALUES (1, 'title', 'en', 'Flood forecasting', true, false, 0),"
        " (1, 'title', 'ja', '東京大学の洪水予報', false, true, 1)",
    ]
    for pk, keywords in DATASETS:
        rows.append(
            "INSERT INTO datasets (id, project_id, owner_institution_id, title, keywords,"
            f" licence, access_level, created_at, updated_at) VALUES ({pk}, 1, 1, 'D{pk}',"
            f" '{keywords}', 'CC-BY-4.0', 'public', '{NOW}', '{NOW}')"
        )
    rows.append(
        "INSERT INTO language_texts (dataset_id, field, lang, value, original, translated,"
        " position) VALUES (3, 'title', 'ja', 'D3', true, false, 0)"
    )
    return rows


KEYWORDS = "SELECT dataset_id, lang, value, translated, position FROM dataset_keywords"
EXPECTED = [
    (1, "und", "flood", False, 0),
    (1, "und", "洪水", False, 1),
    (3, "ja", "rain", False, 0),
    (3, "ja", "雨", False, 1),
]
COLUMNS = "SELECT id, title, keywords FROM datasets ORDER BY id"


def _keywords(url: str) -> list[tuple]:
    rows = [tuple(r) for r in _run(url, [], KEYWORDS)]
    return sorted((*r[:3], bool(r[3]), r[4]) for r in rows)


def _found(url: str, term: str) -> bool:
    """The project's document holds the term (its terms, as the analyser wrote them)."""
    if url.startswith("sqlite"):
        sql = "SELECT terms_title FROM search_documents WHERE kind = 'project' AND ref_id = 1"
    else:
        sql = "SELECT document::text FROM search_documents WHERE kind = 'project' AND ref_id = 1"
    return term in (_run(url, [], sql)[0][0] or "")


def check(url: str) -> None:
    upgrade(url, BEFORE)
    _run(url, _rows())
    columns = [tuple(r) for r in _run(url, [], COLUMNS)]
    assert not _found(url, "大学")  # before: the document holds the column's title alone
    upgrade(url)
    assert _keywords(url) == EXPECTED
    assert _found(url, "大学")
    texts = "SELECT texts FROM search_documents WHERE kind = 'project' AND ref_id = 1"
    assert _run(url, [], texts)[0][0] == "東京大学の洪水予報"
    downgrade(url, BEFORE)
    assert [tuple(r) for r in _run(url, [], COLUMNS)] == columns
    assert not _found(url, "大学")
    upgrade(url)
    assert _keywords(url) == EXPECTED
    assert _found(url, "大学")
    assert [tuple(r) for r in _run(url, [], COLUMNS)] == columns


def test_sqlite_keywords_and_search_texts(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}")


@pytest.mark.postgres
def test_postgres_keywords_and_search_texts() -> None:
    with postgres_database("satreps_keywords") as url:
        check(url)
