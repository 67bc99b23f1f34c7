"""Migration 0020 on SQLite and PostgreSQL: accounts may be data stewards (the account_role
CHECK constraint), existing datasets are not partner-country data, a researcher has at most
one pending request per dataset (a partial unique index), and going down turns data
stewards into researchers before the constraint forbids the role again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, ROWS
from tests.server.test_quarantine_migration import _run

BEFORE = "0019"
STEWARD = (
    "INSERT INTO accounts (id, username, role, institution_id, created_at)"
    f" VALUES (7, 'steward', 'data_steward', 1, '{NOW}')"
)
PERSON = f"INSERT INTO researchers (id, name_en, created_at) VALUES (1, 'R', '{NOW}')"


def _request(pk: int, status: str) -> str:
    return (
        "INSERT INTO access_requests (id, dataset_id, researcher_id, purpose, status, dual,"
        f" created_at, expires_at) VALUES ({pk}, 1, 1, 'a study', '{status}', false,"
        f" '{NOW}', '{NOW}')"
    )


def check(url: str) -> None:
    upgrade(url, "0010")  # the rows below name the columns of then
    _run(url, ROWS + [PERSON])
    upgrade(url, BEFORE)
    with pytest.raises(IntegrityError):  # before 0020 the role does not exist
        _run(url, [STEWARD])
    upgrade(url, "0020")
    assert _run(url, [], "SELECT partner_country_data FROM datasets") == [(False,)]
    _run(url, [STEWARD, _request(1, "pending"), _request(2, "denied"), _request(3, "expired")])
    with pytest.raises(IntegrityError):  # a second pending request for the same dataset
        _run(url, [_request(4, "pending")])
    with pytest.raises(IntegrityError):  # the status CHECK
        _run(url, [_request(5, "maybe")])
    downgrade(url, BEFORE)
    assert _run(url, [], "SELECT role FROM accounts WHERE id = 7") == [("researcher",)]
    upgrade(url)


def test_sqlite(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")


@pytest.mark.postgres
def test_postgres() -> None:
    with postgres_database("satreps_access_requests") as url:
        check(url)
