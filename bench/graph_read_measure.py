"""The measuring tools of bench/graph_read.py: an app served by uvicorn on a loopback port,
the SQL statements run on an engine counted, requests sent and timed, and the report's
lines printed as they come."""

from __future__ import annotations

import asyncio
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn


def say(text: str) -> None:
    print(text, flush=True)


# ---- servers ---------------------------------------------------------------------------


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on a free loopback port of this event loop."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY on accepted connections only when
    # the listening socket's proto says TCP; with proto 0 every response written in two
    # parts waited ~40 ms for a delayed ACK (Nagle)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


# ---- measuring -------------------------------------------------------------------------

TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})


class StatementCounter:
    """SQL statements run on one engine: the token lookup ("auth") apart from the rest."""

    def __init__(self) -> None:
        self.data = 0
        self.auth = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        words = statement.split(None, 1)
        if words and words[0].upper() in TRANSACTION_CONTROL:
            return
        if "api_tokens" not in statement:
            self.data += 1
        elif "json" in statement.lower():  # the fast path's fused token lookup and data
            self.data += 1
        else:
            self.auth += 1

    def snapshot(self) -> tuple[int, int]:
        return self.data, self.auth


@dataclass
class Stats:
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: int) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[q - 1] * 1000


def merged(runs: list[Stats]) -> Stats:
    """All latencies of several measurements (for percentiles only)."""
    return Stats(sum(s.requests for s in runs), 1.0, [x for s in runs for x in s.latencies])


Send = Callable[[], Awaitable[httpx.Response]]


async def measure(send: Send, requests: int, concurrency: int, seconds: float) -> Stats:
    """`concurrency` workers sending until `requests` are sent or `seconds` have passed
    (at least two requests, so that there is a median)."""
    latencies: list[float] = []
    started = 0
    began = time.perf_counter()
    deadline = began + seconds

    async def worker() -> None:
        nonlocal started
        while started < requests and (started < 2 or time.perf_counter() < deadline):
            started += 1
            sent = time.perf_counter()
            response = await send()
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(max(concurrency, 1))))
    return Stats(len(latencies), time.perf_counter() - began, latencies)
