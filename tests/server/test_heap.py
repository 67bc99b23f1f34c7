"""A long-running process settles its heap once start-up is over (server/core/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from server.core import heap
from tests.fixtures.clients import app_client


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was, whatever the test did to it."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_settle_heap_freezes_what_start_up_built_and_collects_young_objects_less_often(
    collector: None,
) -> None:
    gc.unfreeze()
    built = [object() for _ in range(3)]  # noqa: F841 - alive across the call
    heap.settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (heap.YOUNG, heap.MIDDLE, heap.OLD)
    assert heap.YOUNG > 700  # CPython's default, which the tuning exists to raise


@pytest.mark.parametrize("tuning", [True, False])
async def test_the_apps_start_up_settles_the_heap_when_the_setting_is_on(
    tuning: bool, settings: Any, sessions: Any, jobs: Any, events: Any, monkeypatch: Any
) -> None:
    calls: list[str] = []
    monkeypatch.setattr("server.http.app.settle_heap", lambda: calls.append("settled"))
    configured = settings.model_copy(update={"gc_tuning": tuning})
    async with app_client(configured, sessions, jobs, events) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert calls == (["settled"] if tuning else [])


@pytest.mark.parametrize("tuning", [True, False])
async def test_the_workers_start_up_settles_the_heap_when_the_setting_is_on(
    tuning: bool, settings: Any, monkeypatch: Any
) -> None:
    from workers import main

    calls: list[str] = []
    monkeypatch.setattr(main, "settle_heap", lambda: calls.append("settled"))
    ctx: dict[str, Any] = {"settings": settings.model_copy(update={"gc_tuning": tuning})}
    await main.startup(ctx)
    try:
        assert calls == (["settled"] if tuning else [])
    finally:
        await main.shutdown(ctx)


def test_the_test_process_runs_with_the_tuning_off() -> None:
    from server.core.config import Settings

    assert Settings().gc_tuning is False  # tests/conftest.py: see why there
