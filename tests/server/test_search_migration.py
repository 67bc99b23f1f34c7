"""Migration 0016 rebuilds every search document with the analyser (server/search/analysis.py)
on SQLite and PostgreSQL, keeps the text the triggers gather, and goes back to 0015's
tables and triggers with every document kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW
from tests.server.test_quarantine_migration import _run

BEFORE = "0015"


def _institution(id_: int, name_en: str, name_local: str) -> str:
    return (
        "INSERT INTO institutions (id, name_en, name_local, country_code, kind, created_at,"
        f" updated_at) VALUES ({id_}, '{name_en}', '{name_local}', 'JP', 'university',"
        f" '{NOW}', '{NOW}')"
    )


def _new(url: str, term: str) -> list[int]:
    """The institutions whose analysed document holds a term starting with `term`."""
    if url.startswith("sqlite"):
        query = (
            "SELECT d.ref_id FROM search_fts f JOIN search_documents d ON d.id = f.rowid"
            f" WHERE search_fts MATCH '\"{term}\"*' AND d.kind = 'institution' ORDER BY 1"
        )
    else:
        query = (
            "SELECT ref_id FROM search_documents WHERE kind = 'institution'"
            f" AND document @@ CAST('''{term}'':*' AS tsquery) ORDER BY 1"
        )
    return [r[0] for r in _run(url, [], query)]


def _old(url: str, word: str) -> list[int]:
    """The institutions 0015's index finds by a word (unicode61, or 'simple')."""
    if url.startswith("sqlite"):
        query = f"SELECT ref_id FROM search_fts WHERE search_fts MATCH '\"{word}\"*' ORDER BY 1"
    else:
        query = (
            "SELECT ref_id FROM search_documents WHERE kind = 'institution'"
            f" AND document @@ to_tsquery('simple', '{word}:*') ORDER BY 1"
        )
    return [r[0] for r in _run(url, [], query)]


def _pending(url: str) -> int:
    empty = "terms_title IS NULL" if url.startswith("sqlite") else "document IS NULL"
    return int(_run(url, [], f"SELECT count(*) FROM search_documents WHERE {empty}")[0][0])


def check(url: str) -> None:
    upgrade(url, BEFORE)
    _run(
        url, [_institution(1, "University of Tokyo", "東京大学"), _institution(2, "VNU", "Hà Nội")]
    )
    assert _old(url, "大学") == []  # the issue: inside a run of Han, nothing
    upgrade(url)
    assert _new(url, "大学") == [1]
    assert _new(url, "ha") == [2] and _new(url, "noi") == [2]
    assert _pending(url) == 0
    # a row written outside any session: the triggers gather its text, its terms wait
    _run(url, [_institution(3, "Kyoto University", "京都大学")])
    assert _pending(url) == 1 and _new(url, "大学") == [1]
    downgrade(url, BEFORE)
    assert _old(url, "東京大学") == [1] and _old(url, "京都大学") == [3]
    assert _old(url, "hà") == [2] or _old(url, "ha") == [2]
    upgrade(url)
    assert _new(url, "大学") == [1, 3] and _pending(url) == 0


def test_sqlite_search_documents_are_rebuilt(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")


@pytest.mark.postgres
def test_postgres_search_documents_are_rebuilt() -> None:
    with postgres_database("satreps_search_analysis") as url:
        check(url)
