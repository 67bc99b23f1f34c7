"""What the benchmarks share: the repository on the import path (they run as
`python bench/<name>.py`, which puts bench/ there, not the root) and a fresh PostgreSQL
database per run, dropped on the way out whatever happened."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from server.core.db import make_engine  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "SATREPS_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


async def _admin(sql: str) -> None:
    engine = make_engine(PG_ADMIN_URL)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(sql)
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(bench: str, say: Callable[[str], object] = print) -> Iterator[str]:
    """A new database named after the benchmark and this process; its URL."""
    name = f"satreps_bench_{bench}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        say(f"dropped database {name}")
