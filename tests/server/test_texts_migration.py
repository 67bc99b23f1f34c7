"""Migration 0017 copies every existing title, acronym, summary, institution, researcher and
theme name and theme description into language_texts as its field's original (projects' in
`und`; an institution's English name in `en`, its local name in its country's official
language, `und` where the country has several; a researcher's local name in `und`; a theme
still named as 0001 seeded it in `en`), on SQLite and PostgreSQL; down and up again, the columns still hold every value
and the texts come back the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, _run

BEFORE = "0016"
INSTITUTIONS = [
    (1, "The University of Tokyo", "東京大学", "JP"),
    (2, "Chulalongkorn University", "จุฬาลงกรณ์มหาวิทยาลัย", "TH"),
    (3, "Vietnam National University", "Đại học Quốc gia", "VN"),
    (4, "IPB University", "Institut Pertanian Bogor", "ID"),
    (5, "University of Nairobi", "Chuo Kikuu cha Nairobi", "KE"),  # English and Swahili
    (6, "Royal University of Phnom Penh", None, "KH"),
    (7, "Smithsonian", "Smithsonian Institution", "US"),  # English: its local name is und
]
RESEARCHERS = [(1, "Tanaka Hiroshi", "田中 博"), (2, "Ana Souza", None)]
SEEDED = {  # the six themes 0001 seeds, in English
    1: "Environment and Energy",
    2: "Global-scale Environmental Issues",
    3: "Carbon Neutral Society / Energy",
    4: "Bioresources",
    5: "Disaster Prevention and Mitigation",
    6: "Infectious Diseases Control",
}
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
    for pk, name_en, name_local in RESEARCHERS:
        local = "NULL" if name_local is None else f"'{name_local}'"
        rows.append(
            "INSERT INTO researchers (id, name_en, name_local, created_at)"
            f" VALUES ({pk}, '{name_en}', {local}, '{NOW}')"
        )
    rows += [
        "UPDATE themes SET name = 'Bioresources (renamed)' WHERE id = 4",
        "INSERT INTO themes (id, code, name, description) VALUES"
        " (100, 'coast', '沿岸', 'Mangroves and reefs')",
    ]
    for pk, title, acronym, summary in PROJECTS:
        values = [
            "NULL" if v is None else "'" + v.replace("'", "''") + "'"
            for v in (title, acronym, summary)
        ]
        rows.append(
            "INSERT INTO projects (id, title, acronym, summary, phase, created_at, updated_at)"
            f" VALUES ({pk}, {', '.join(values)}, 'implementation', '{NOW}', '{NOW}')"
        )
    rows.append(
        "INSERT INTO datasets (id, project_id, owner_institution_id, title, description,"
        " keywords, licence, access_level, created_at, updated_at) VALUES (1, 1, 1,"
        f" 'Gauges ที่', 'Hourly.', '[]', 'CC-BY-4.0', 'public', '{NOW}', '{NOW}')"
    )
    for pk, title, language in ((1, "Sổ tay", "vie"), (2, "Manual", "zzz")):
        rows.append(
            "INSERT INTO learning_materials (id, project_id, title, kind, language, licence,"
            f" created_at) VALUES ({pk}, 1, '{title}', 'seminar_material', '{language}',"
            f" 'CC-BY-4.0', '{NOW}')"
        )
    return rows


TEXTS = (
    "SELECT project_id, institution_id, researcher_id, theme_id, dataset_id, material_id, field,"
    " lang, value, original,"
    " translated, position FROM language_texts"
)
COLUMNS = (
    "SELECT 'p', id, title, acronym, summary FROM projects UNION ALL"
    " SELECT 'i', id, name_en, name_local, country_code FROM institutions UNION ALL"
    " SELECT 'r', id, name_en, name_local, NULL FROM researchers UNION ALL"
    " SELECT 't', id, code, name, description FROM themes UNION ALL"
    " SELECT 'd', id, title, description, licence FROM datasets UNION ALL"
    " SELECT 'm', id, title, language, licence FROM learning_materials ORDER BY 1, 2"
)


def _p(pk: int, field: str, value: str) -> tuple:
    return (pk, None, None, None, None, None, field, "und", value, True, False, 0)


def _name(column: int, pk: int, lang: str, value: str, position: int) -> tuple:
    owners: list[int | None] = [None, None, None, None, None, None]
    owners[column] = pk
    return (*owners, "name", lang, value, position == 0, False, position)


LOCAL = {"JP": "ja", "TH": "th", "VN": "vi", "ID": "id"}
EXPECTED = [
    _p(1, "acronym", "FLEWS"),
    _p(1, "summary", "Rivers and rain."),
    _p(1, "title", "Flood early warning"),
    _p(2, "title", "Coral reefs ' of Bali"),
    _p(3, "summary", "x"),  # an empty acronym is no value
    _p(3, "title", "多言語 العربية Ελληνικά"),
    *(
        row
        for pk, name_en, name_local, country in INSTITUTIONS
        for row in (
            [_name(1, pk, LOCAL.get(country, "und"), name_local, 0), _name(1, pk, "en", name_en, 1)]
            if name_local
            else [_name(1, pk, "en", name_en, 0)]
        )
    ),
    _name(2, 1, "und", "田中 博", 0),
    _name(2, 1, "en", "Tanaka Hiroshi", 1),
    _name(2, 2, "en", "Ana Souza", 0),
    *(_name(3, pk, "en", name, 0) for pk, name in SEEDED.items() if pk != 4),
    _name(3, 4, "und", "Bioresources (renamed)", 0),  # no longer the seeded English name
    _name(3, 100, "und", "沿岸", 0),
    (
        None,
        None,
        None,
        100,
        None,
        None,
        "description",
        "und",
        "Mangroves and reefs",
        True,
        False,
        0,
    ),
    (None, None, None, None, 1, None, "description", "und", "Hourly.", True, False, 0),
    (None, None, None, None, 1, None, "title", "und", "Gauges ที่", True, False, 0),
    (None, None, None, None, None, 1, "title", "vi", "Sổ tay", True, False, 0),  # vie: vi
    (None, None, None, None, None, 2, "title", "und", "Manual", True, False, 0),  # no language
]


def _texts(url: str) -> list[tuple]:
    rows = [tuple(r) for r in _run(url, [], TEXTS)]
    return [(*r[:9], bool(r[9]), bool(r[10]), r[11]) for r in rows]


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
