"""Global ids and cursors on SQLite are spelled out in SQL (schema.compiled.sqljson
SqliteDigitsB64), not computed by a Python function on the connection: such a function takes
the GIL in SQLite's thread for every id, which under concurrent requests waits on the event
loop's thread (bench/graph_read.py, SQLite at concurrency 8)."""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select
from sqlalchemy.dialects import sqlite

from schema.compiled.sqljson import SqlJson
from server.core.db import UTCDateTime
from tests.fixtures.access_world import build_world
from tests.fixtures.compiled_world import answering_statements
from tests.schema.test_compiled import NESTED

# every number of digits at both of its ends (the groups are chosen by comparing the key
# with powers of ten), and some in between
EDGES = sorted({n for k in range(1, 19) for n in (10**k - 1, 10**k)})
KEYS = sorted({*range(0, 1100), *EDGES, 123456, 10**9 + 1, 2**31, 10**12 + 7, 2**63 - 1})


@pytest.mark.parametrize(
    ("prefix", "url"),
    [
        ("Theme:", False),
        ("Project:", False),
        ("Institution:", False),
        ("AB:", False),
        ("A:", False),
        ("k1:", True),
    ],
)
def test_ids_spelled_out_in_sql_are_base64(prefix: str, url: bool) -> None:
    """Every length of key (1 to 19 digits) against base64 itself, on a connection that has
    no function of ours registered (a call to one would fail), and null for a null key."""
    table = Table("t", MetaData(), Column("id", Integer))
    json = SqlJson("sqlite")
    encoded = (
        json.cursor(table.c.id) if prefix == "k1:" else json.global_id(prefix[:-1], table.c.id)
    )
    sql = str(select(table.c.id, encoded).compile(dialect=sqlite.dialect()))
    assert "satreps_" not in sql
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (id INTEGER)")
    connection.executemany("INSERT INTO t VALUES (?)", [(key,) for key in [*KEYS, None]])
    encode = base64.urlsafe_b64encode if url else base64.b64encode
    got = dict(connection.execute(sql).fetchall())
    assert got.pop(None) is None
    assert got == {key: encode(f"{prefix}{key}".encode()).decode() for key in KEYS}


def test_datetimes_spelled_out_in_sql_are_isoformat() -> None:
    """Datetimes as SQLAlchemy stores them on SQLite come out as datetime.isoformat() writes
    them, by SQL alone (the function of ours, counting its calls, is called for none)."""
    table = Table("t", MetaData(), Column("at", UTCDateTime()))
    engine = create_engine("sqlite://")
    calls: list[Any] = []
    values = [
        dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 2, 3, 4, 5, 120, tzinfo=dt.UTC),
        dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    ]
    with engine.begin() as connection:
        connection.connection.create_function("satreps_isoformat", 1, calls.append)
        table.create(connection)
        connection.execute(table.insert(), [{"at": value} for value in [*values, None]])
        got = connection.execute(select(SqlJson("sqlite").datetime(table.c.at))).scalars()
        assert list(got) == [*(value.isoformat() for value in values), None]
    assert calls == []


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_a_nested_read_on_sqlite_spells_its_ids_out(admin, engine, sessions):
    """A nested read with ids at three levels and datetimes stays one statement (SQLite's
    parser stack holds it, ids spelled out): no function of ours for its ids, and one for
    datetimes only where the stored text is not SQLAlchemy's form."""
    await build_world(sessions)
    with answering_statements(engine) as statements:
        await admin(NESTED)
    assert len(statements) == 1
    (statement,) = statements
    assert "satreps_b64" not in statement and statement.count("x'") >= 3 * 7
    assert statement.count("satreps_isoformat(") == statement.count("ELSE satreps_isoformat(") > 0
