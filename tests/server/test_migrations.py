"""The Alembic migrations build exactly the schema the models describe, and go both ways."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.core.db import make_engine
from server.migrations import downgrade, upgrade
from server.models import Base
from server.search.queries import mapped_name
from tests.conftest import postgres_database


def in_thread(coro_fn: Any) -> Any:
    """Run a coroutine on its own loop (the migrations run their own loop too)."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(coro_fn())))
    thread.start()
    thread.join()
    return result[0]


def schema_state(url: str) -> tuple[list[Any], list[str]]:
    async def inspect_db() -> tuple[list[Any], list[str]]:
        engine = make_engine(url)
        async with engine.connect() as conn:

            def check(sync_conn: Any) -> tuple[list[Any], list[str]]:
                opts = {"compare_type": True, "include_name": mapped_name}
                context = MigrationContext.configure(sync_conn, opts=opts)
                return compare_metadata(context, Base.metadata), inspect(
                    sync_conn
                ).get_table_names()

            state = await conn.run_sync(check)
        await engine.dispose()
        return state

    return in_thread(inspect_db)


def round_trip(url: str) -> None:
    upgrade(url)
    diff, tables = schema_state(url)
    assert diff == [], diff
    assert {"projects", "institutions", "researchers", "themes", "api_tokens"} <= set(tables)
    downgrade(url, "base")
    assert schema_state(url)[1] == ["alembic_version"]
    upgrade(url)
    assert schema_state(url)[0] == []


def test_sqlite_migrations_round_trip(tmp_path: Path) -> None:
    round_trip(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_migrations_round_trip() -> None:
    with postgres_database("satreps_migrations") as url:
        round_trip(url)
