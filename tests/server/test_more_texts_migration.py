"""Migration 0024 copies every institution acronym, training course title and outcome notes,
PDM element and indicator description, monitoring report and evaluation summary, follow-up
cooperation description and data use agreement title into language_texts as its field's
original in `und`, on SQLite and PostgreSQL; down, those rows go (the rows 0017 wrote stay)
and the columns still hold every value; up again, the texts come back the same. SQLite's
search triggers on language_texts (0019) survive the table's remaking both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, _run

BEFORE = "0023"
ROWS = [
    "INSERT INTO institutions (id, name_en, acronym, country_code, kind, created_at, updated_at)"
    f" VALUES (1, 'Kyoto University', 'KU', 'JP', 'university', '{NOW}', '{NOW}'),"
    f" (2, 'Chulalongkorn University', NULL, 'TH', 'university', '{NOW}', '{NOW}'),"
    f" (3, 'Empty', '', 'TH', 'university', '{NOW}', '{NOW}')",
    "INSERT INTO projects (id, title, phase, created_at, updated_at)"
    f" VALUES (1, 'Flood early warning', 'implementation', '{NOW}', '{NOW}')",
    "INSERT INTO training_courses (id, project_id, title, course_type, host_country,"
    " start_date, outcome_notes, created_at) VALUES"
    f" (1, 1, 'GIS ที่', 'country_focus', 'JP', '2023-05-01', '12 trained', '{NOW}'),"
    f" (2, 1, 'Lab', 'in_country', 'TH', '2023-06-01', NULL, '{NOW}')",
    "INSERT INTO pdm_elements (id, project_id, level, position, description) VALUES"
    " (1, 1, 'overall_goal', 0, '洪水の被害が減る'), (2, 1, 'output', 1, 'Gauges ''installed''')",
    "INSERT INTO indicators (id, element_id, description, unit) VALUES (1, 2, 'Gauges', 'count')",
    "INSERT INTO monitoring_reports (id, project_id, period_start, period_end, submitted_on,"
    " summary) VALUES (1, 1, '2022-04-01', '2022-09-30', '2022-10-15', 'On track.'),"
    " (2, 1, '2022-10-01', '2023-03-31', '2023-04-15', NULL)",
    "INSERT INTO evaluations (id, project_id, kind, evaluated_on, summary, created_at)"
    f" VALUES (1, 1, 'mid_term_review', '2023-05-01', 'Sound', '{NOW}')",
    "INSERT INTO follow_up_cooperations (id, project_id, start_date, description)"
    " VALUES (1, 1, '2028-01-01', 'Phase 2')",
    "INSERT INTO datasets (id, project_id, owner_institution_id, title, keywords, licence,"
    f" access_level, created_at, updated_at) VALUES (1, 1, 1, 'Gauges', '[]', 'CC-BY-4.0',"
    f" 'public', '{NOW}', '{NOW}')",
    "INSERT INTO data_use_agreements (id, dataset_id, version, title, body, created_at)"
    f" VALUES (1, 1, 1, 'Terms ข้อตกลง', 'Cite us.', '{NOW}')",
]
OWNERS = (
    "institution_id",
    "course_id",
    "pdm_element_id",
    "indicator_id",
    "monitoring_report_id",
    "evaluation_id",
    "follow_up_id",
    "agreement_id",
)
NEW = (
    f"SELECT {', '.join(OWNERS)}, field, lang, value, original, translated, position"
    " FROM language_texts WHERE (institution_id IS NOT NULL AND field = 'acronym') OR "
    + " OR ".join(f"{owner} IS NOT NULL" for owner in OWNERS[1:])
)
OLD = "SELECT project_id, institution_id, dataset_id, field, lang, value FROM language_texts"
COLUMNS = (
    "SELECT 'i', id, acronym, NULL FROM institutions UNION ALL"
    " SELECT 'c', id, title, outcome_notes FROM training_courses UNION ALL"
    " SELECT 'p', id, description, NULL FROM pdm_elements UNION ALL"
    " SELECT 'n', id, description, unit FROM indicators UNION ALL"
    " SELECT 'm', id, summary, NULL FROM monitoring_reports UNION ALL"
    " SELECT 'e', id, summary, NULL FROM evaluations UNION ALL"
    " SELECT 'f', id, description, NULL FROM follow_up_cooperations UNION ALL"
    " SELECT 'a', id, title, body FROM data_use_agreements ORDER BY 1, 2"
)
TRIGGERS = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'language_texts'"


def _text(owner: str, pk: int, field: str, value: str) -> tuple:
    owners = tuple(pk if column == owner else None for column in OWNERS)
    return (*owners, field, "und", value, True, False, 0)


EXPECTED = [
    _text("institution_id", 1, "acronym", "KU"),  # none for a null or empty acronym
    _text("course_id", 1, "title", "GIS ที่"),
    _text("course_id", 1, "outcome_notes", "12 trained"),
    _text("course_id", 2, "title", "Lab"),
    _text("pdm_element_id", 1, "description", "洪水の被害が減る"),
    _text("pdm_element_id", 2, "description", "Gauges 'installed'"),
    _text("indicator_id", 1, "description", "Gauges"),
    _text("monitoring_report_id", 1, "summary", "On track."),
    _text("evaluation_id", 1, "summary", "Sound"),
    _text("follow_up_id", 1, "description", "Phase 2"),
    _text("agreement_id", 1, "title", "Terms ข้อตกลง"),
]


def _new(url: str) -> list[tuple]:
    rows = [tuple(r) for r in _run(url, [], NEW)]
    return sorted(((*r[:11], bool(r[11]), bool(r[12]), r[13]) for r in rows), key=repr)


def _state(url: str, query: str) -> list[tuple]:
    return sorted((tuple(r) for r in _run(url, [], query)), key=repr)


def check(url: str, sqlite: bool) -> None:
    upgrade(url, BEFORE)
    _run(url, ROWS)
    columns, old = _state(url, COLUMNS), _state(url, OLD)
    triggers = _state(url, TRIGGERS) if sqlite else []
    assert not sqlite or len(triggers) == 3
    upgrade(url)
    assert _new(url) == sorted(EXPECTED, key=repr)
    assert _state(url, COLUMNS) == columns
    if sqlite:
        assert _state(url, TRIGGERS) == triggers
    # a course's texts go with it (ON DELETE CASCADE)
    _run(
        url,
        [
            "INSERT INTO training_courses (id, project_id, title, course_type, host_country,"
            f" start_date, created_at) VALUES (3, 1, 'x', 'in_country', 'TH', '2023-01-01',"
            f" '{NOW}')",
            "INSERT INTO language_texts (course_id, field, lang, value, original, translated,"
            " position) VALUES (3, 'title', 'en', 'x', true, false, 0)",
            "DELETE FROM training_courses WHERE id = 3",
        ],
    )
    assert _new(url) == sorted(EXPECTED, key=repr)
    downgrade(url, BEFORE)
    assert _state(url, COLUMNS) == columns  # every value kept
    assert _state(url, OLD) == old  # 0017's rows stay, the acronyms go
    if sqlite:
        assert _state(url, TRIGGERS) == triggers
    upgrade(url)
    assert _new(url) == sorted(EXPECTED, key=repr)
    assert _state(url, COLUMNS) == columns


def test_sqlite_more_texts(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", sqlite=True)


@pytest.mark.postgres
def test_postgres_more_texts() -> None:
    with postgres_database("satreps_more_texts") as url:
        check(url, sqlite=False)
