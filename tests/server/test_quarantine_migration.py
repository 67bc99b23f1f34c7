"""Migration 0015 lets an upload be QUARANTINED (the upload_state CHECK constraint) with the
signature's name, on SQLite and PostgreSQL, and going down turns quarantined uploads into
failed ones before the constraint forbids the state again."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from server.core.db import make_engine
from server.migrations import downgrade, upgrade
from tests.conftest import postgres_database
from tests.server.test_coverage_migration import NOW, ROWS

BEFORE = "0014"


def _run(url: str, statements: list[str], query: str | None = None) -> Any:
    """The statements in one transaction on a loop of its own; what they raise, raised here."""

    async def go() -> Any:
        engine = make_engine(url)
        try:
            async with engine.begin() as conn:
                for sql in statements:
                    await conn.execute(text(sql))
                return (await conn.execute(text(query))).all() if query else None
        finally:
            await engine.dispose()

    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["result"] = asyncio.run(go())
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def _upload(upload_id: int, state: str, signature: str | None = None) -> str:
    sig = f"'{signature}'" if signature else "NULL"
    columns = "id, version_id, filename, object_key, declared_size, state, attempts, created_at,"
    columns += " updated_at"
    values = f"{upload_id}, 1, 'f{upload_id}', 'k/{upload_id}', 68, '{state}', 1, '{NOW}', '{NOW}'"
    if signature is None:
        return f"INSERT INTO uploads ({columns}) VALUES ({values})"
    return f"INSERT INTO uploads ({columns}, malware_signature) VALUES ({values}, {sig})"


def check(url: str) -> None:
    upgrade(url, BEFORE)
    _run(url, ROWS)
    with pytest.raises(IntegrityError):  # at 0014 the state does not exist yet
        _run(url, [_upload(1, "quarantined")])
    upgrade(url, "0015")  # later revisions add columns these rows do not name (0018: path)
    _run(url, [_upload(1, "quarantined", "Eicar-Test-Signature.UNOFFICIAL"), _upload(2, "ready")])
    rows = _run(url, [], "SELECT id, state, malware_signature FROM uploads ORDER BY id")
    assert [tuple(r) for r in rows] == [
        (1, "quarantined", "Eicar-Test-Signature.UNOFFICIAL"),
        (2, "ready", None),
    ]
    with pytest.raises(IntegrityError):  # the constraint still holds the other states
        _run(url, [_upload(3, "infected")])
    downgrade(url, BEFORE)
    rows = _run(url, [], "SELECT id, state, error_code FROM uploads ORDER BY id")
    assert [tuple(r) for r in rows] == [(1, "failed", "MALWARE_FOUND"), (2, "ready", None)]
    upgrade(url)


def test_sqlite_quarantine_state(tmp_path: Path) -> None:
    check(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")


@pytest.mark.postgres
def test_postgres_quarantine_state() -> None:
    with postgres_database("satreps_quarantine") as url:
        check(url)
