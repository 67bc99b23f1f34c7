"""How many processes `satreps serve` runs (server.core.config.serve_processes)."""

import os

from server.core.config import Settings, serve_processes

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/x"


def test_the_embedded_default_runs_one_process() -> None:
    assert serve_processes(Settings(database_url="sqlite+aiosqlite:///x.db")) == 1
    # SQLite even with Redis: one writer
    redis = "redis://127.0.0.1:6379/0"
    assert serve_processes(Settings(database_url="sqlite+aiosqlite:///x.db", redis_url=redis)) == 1
    # PostgreSQL without Redis: the jobs and the rate limits live in this process
    assert serve_processes(Settings(database_url=PG, redis_url=None)) == 1


def test_shared_state_runs_one_process_per_usable_cpu() -> None:
    settings = Settings(database_url=PG, redis_url="redis://127.0.0.1:6379/0")
    assert serve_processes(settings) == len(os.sched_getaffinity(0))


def test_the_setting_overrides() -> None:
    assert serve_processes(Settings(database_url=PG, serve_processes=3)) == 3
    assert (
        serve_processes(Settings(database_url="sqlite+aiosqlite:///x.db", serve_processes=2)) == 2
    )
