"""Migration 0017 copies every existing title, acronym, summary and institution name into
language_texts as its field's original (projects' in `und`; an institution's English name
in `en`, its local name in its country's official language, `und` where the country has
several), on SQLite and PostgreSQL; down and up again, the columns still hold every value
and the texts come back the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, _run

BEFORE = "0015"
INSTITUTIONS = [
    (1, "The University of Tokyo", "東京大学", "JP"),
    (2, "Chulalongkorn University", "จุฬาลงกรณ์มหาวิทยาลัย", "TH"),
    (3, "Vietnam National University", "Đại học Quốc gia", "VN"),
    (4, "IPB University", "Institut Pertanian Bogor", "ID"),
    (5, "University of Nairobi", "Chuo Kikuu cha Nairobi", "KE"),  # English and Swahili
    (6, "Royal University of Phnom Penh", None, "KH"),
    (7, "Smithsonian", "Smithsonian Institution", "US"),  # English: its local name is und
]
PROJECTS = [
    (1, "Flood early warning", "FLEWS", "Rivers and rain."),
    (2, "Coral reefs ' of Bali", None, None),
    (3, "多言語 العربية Ελληνικά", "", "x"),
]


def _rows() -> list[str]:
    rows = []
    for pk, name_en, name_local, country in INSTITUTIONS:
        local = "NULL" if name_local is None else f"'{name_local}'"
        rows.append(
            "INSERT INTO institutions (id, name_en, name_local, country_code, kind, created_at,"
            f" updated_at) VALUES ({pk}, '{name_en}', {local}, '{country}', 'university',"
            f" '{NOW}', '{NOW}')"
        )
    for pk, title, acronym, summary in PROJECTS:
        values = [
            "NULL" if v is None else "'" + v.replace("'", "''") + "'"
            for v in (title, acronym, summary)
        ]
        rows.append(
            "INSERT INTO projects (id, title, acronym, summary, phase, created_at, updated_at)"
            f" VALUES ({pk}, {', '.join(values)}, 'implementation', '{NOW}', '{NOW}')"
        )
    return rows


TEXTS = (
    "SELECT project_id, institution_id, field, lang, value, original, translated, position"
    " FROM language_texts ORDER BY project_id, institution_id, field, position"
)
COLUMNS = (
    "SELECT 'p', id, title, acronym, summary FROM projects UNION ALL"
    " SELECT 'i', id, name_en, name_local, country_code FROM institutions ORDER BY 1, 2"
)
EXPECTED = [
    (1, None, "acronym", "und", "FLEWS", True, False, 0),
    (1, None, "summary", "und", "Rivers and rain.", True, False, 0),
    (1, None, "title", "und", "Flood early warning", True, False, 0),
    (2, None, "title", "und", "Coral reefs ' of Bali", True, False, 0),
    (3, None, "summary", "und", "x", True, False, 0),  # an empty acronym is no value
    (3, None, "title", "und", "多言語 العربية Ελληνικά", True, False, 0),
    *(
        row
        for pk, name_en, name_local, country in INSTITUTIONS
        for row in (
            [
                (
                    None,
                    pk,
                    "name",
                    {"JP": "ja", "TH": "th", "VN": "vi", "ID": "id"}.get(country, "und"),
                    name_local,
                    True,
                    False,
                    0,
                ),
                (None, pk, "name", "en", name_en, False, False, 1),
            ]
            if name_local
            else [(None, pk, "name", "en", name_en, True, False, 0)]
        )
    ),
]


def _texts(url: str) -> list[tuple]:
    rows = [tuple(r) for r in _run(url, [], TEXTS)]
    return [(*r[:5], bool(r[5]), bool(r[6]), r[7]) for r in rows]


def check(url: str) -> None:
    upgrade(url, BEFORE)
    _run(url, _rows())
    columns = [tuple(r) for r in _run(url, [], COLUMNS)]
    upgrade(url)
    assert sorted(_texts(url), key=repr) == sorted(EXPECTED, key=repr)
    downgrade(url, BEFORE)
    assert [tuple(r) for r in _run(url, [], COLUMNS)] == columns  # every value kept
    upgrade(url)
    assert sorted(_texts(url), key=repr) == sorted(EXPECTED, key=repr)
    assert [tuple(r) for r in _run(url, [], COLUMNS)] == columns


def test_sqlite_language_texts(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")


@pytest.mark.postgres
def test_postgres_language_texts() -> None:
    with postgres_database("satreps_texts") as url:
        check(url)
