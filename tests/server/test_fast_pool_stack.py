"""The fast path's stack of asyncpg connections (server/core/fast_pool.py), on real
PostgreSQL connections: the size it keeps to, callers waiting their turn, connections
dropped after a failed statement, cancelled waiters, idle connections closed, close()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from server.core.fast_pool import ConnectionStack, PoolClosed
from server.core.fast_reads import asyncpg_dsn


@pytest.fixture
async def opened(postgres_url: str) -> AsyncIterator[list[Any]]:
    """Every connection the stacks of a test opened (closed at its end)."""
    connections: list[Any] = []
    yield connections
    for connection in connections:
        if not connection.is_closed():
            await connection.close()


def stack(postgres_url: str, opened: list[Any], size: int, **kw: Any) -> ConnectionStack:
    dsn = asyncpg_dsn(postgres_url)

    async def connect() -> Any:
        connection = await asyncpg.connect(dsn)
        opened.append(connection)
        return connection

    return ConnectionStack(connect, size, **kw)


async def test_a_released_connection_is_lent_again(postgres_url: str, opened: list[Any]) -> None:
    pool = stack(postgres_url, opened, 2)
    first = await pool.acquire()
    assert await first.fetchval("SELECT 1") == 1
    pool.release(first, reusable=True)
    assert await pool.acquire() is first
    assert len(opened) == 1 and pool.open == 1


async def test_callers_past_the_size_wait_for_a_release(
    postgres_url: str, opened: list[Any]
) -> None:
    pool = stack(postgres_url, opened, 2)
    a, b = await pool.acquire(), await pool.acquire()
    third = asyncio.ensure_future(pool.acquire())
    fourth = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.05)
    assert not third.done() and not fourth.done() and len(opened) == 2
    pool.release(b, reusable=True)
    assert await third is b  # first come, first served
    assert not fourth.done()
    pool.release(a, reusable=True)
    assert await fourth is a
    assert len(opened) == 2 and pool.open == 2


async def test_a_failed_statement_drops_its_connection_and_a_waiter_opens_another(
    postgres_url: str, opened: list[Any]
) -> None:
    pool = stack(postgres_url, opened, 1)
    lent = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    with pytest.raises(TimeoutError):
        await lent.fetchval("SELECT pg_sleep(5)", timeout=0.1)
    pool.release(lent, reusable=False)
    assert lent.is_closed()
    fresh = await waiter
    assert fresh is not lent and await fresh.fetchval("SELECT 2") == 2
    assert pool.open == 1 and len(opened) == 2


async def test_a_place_handed_to_a_waiter_is_not_taken_by_a_newcomer(
    postgres_url: str, opened: list[Any]
) -> None:
    pool = stack(postgres_url, opened, 1)
    lent = await pool.acquire()
    waiter = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    newcomer = asyncio.ensure_future(pool.acquire())  # runs before the waiter wakes...
    pool.release(lent, reusable=False)  # ...but the dropped one's place is the waiter's
    fresh = await waiter
    await asyncio.sleep(0.01)
    assert not newcomer.done() and pool.open == 1 and len(opened) == 2
    pool.release(fresh, reusable=True)
    assert await newcomer is fresh


@pytest.mark.parametrize("released_first", [False, True])
async def test_a_cancelled_waiter_loses_no_place(
    postgres_url: str, opened: list[Any], released_first: bool
) -> None:
    """Cancelled and gone before the release; or (`released_first`) cancelled, its wait
    ended at once, and its cleanup run only after the release passed over it."""
    pool = stack(postgres_url, opened, 1)
    lent = await pool.acquire()
    gone = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    gone.cancel()
    if released_first:
        pool.release(lent, reusable=True)
    with pytest.raises(asyncio.CancelledError):
        await gone
    if not released_first:
        pool.release(lent, reusable=True)
    assert await asyncio.wait_for(pool.acquire(), 1) is lent


async def test_a_waiter_cancelled_as_it_is_handed_a_connection_passes_it_on(
    postgres_url: str, opened: list[Any]
) -> None:
    pool = stack(postgres_url, opened, 1)
    lent = await pool.acquire()
    first = asyncio.ensure_future(pool.acquire())
    second = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    pool.release(lent, reusable=True)  # handed to the first waiter...
    first.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, 1) is lent
    assert pool.open == 1


async def test_a_connection_the_server_closed_while_idle_is_not_lent(
    postgres_url: str, opened: list[Any]
) -> None:
    pool = stack(postgres_url, opened, 2)
    lent = await pool.acquire()
    pid = lent.get_server_pid()
    pool.release(lent, reusable=True)
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
    try:
        await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    for _ in range(100):  # asyncpg sees the end of the stream
        if lent.is_closed():
            break
        await asyncio.sleep(0.01)
    fresh = await pool.acquire()
    assert fresh is not lent and fresh.get_server_pid() != pid
    assert pool.open == 1


async def until_closed(connection: Any) -> None:
    for _ in range(500):  # a graceful close is a round trip
        if connection.is_closed():
            return
        await asyncio.sleep(0.01)


async def test_the_least_recently_used_idle_connection_is_closed_first(
    postgres_url: str, opened: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.core import fast_pool

    now = [1000.0]
    monkeypatch.setattr(fast_pool, "monotonic", lambda: now[0])
    pool = stack(postgres_url, opened, 2, idle_seconds=300)
    a, b = await pool.acquire(), await pool.acquire()
    pool.release(a, reusable=True)
    now[0] += 100
    pool.release(b, reusable=True)
    now[0] += 200  # a has idled 300 s, b 200 s
    pool._expire()
    await until_closed(a)
    assert a.is_closed() and not b.is_closed() and pool.open == 1
    assert await pool.acquire() is b


async def test_idle_connections_are_closed_on_a_timer(postgres_url: str, opened: list[Any]) -> None:
    pool = stack(postgres_url, opened, 2, idle_seconds=0.05)
    a = await pool.acquire()
    pool.release(a, reusable=True)
    await until_closed(a)
    assert a.is_closed() and pool.open == 0
    again = await pool.acquire()
    assert again is not a and await again.fetchval("SELECT 3") == 3


async def test_close_closes_idle_and_returning_connections(
    postgres_url: str, opened: list[Any]
) -> None:
    pool = stack(postgres_url, opened, 2)
    idle, lent = await pool.acquire(), await pool.acquire()
    pool.release(idle, reusable=True)
    waiter = asyncio.ensure_future(pool.acquire())
    idle_taken = await waiter  # the idle one went to the waiter: lend it back
    assert idle_taken is idle
    pool.release(idle, reusable=True)
    blocked = stack(postgres_url, opened, 1)
    held = await blocked.acquire()
    waiting = asyncio.ensure_future(blocked.acquire())
    await asyncio.sleep(0.01)
    await pool.close()
    await blocked.close()
    assert idle.is_closed() and not lent.is_closed()
    pool.release(lent, reusable=True)  # comes back after close: closed, not kept
    assert lent.is_closed() and pool.open == 0
    with pytest.raises(PoolClosed):
        await waiting
    with pytest.raises(PoolClosed):
        await pool.acquire()
    blocked.release(held, reusable=True)
    assert held.is_closed()


async def test_a_failed_connect_gives_its_place_back(postgres_url: str) -> None:
    attempts = 0

    async def refused() -> Any:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError("no server")

    pool = ConnectionStack(refused, 1)
    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            await pool.acquire()
    assert attempts == 2 and pool.open == 0


def test_a_stack_needs_room() -> None:
    with pytest.raises(ValueError):
        ConnectionStack(asyncpg.connect, 0)
