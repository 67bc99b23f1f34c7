"""Prometheus metrics of the API and the workers.

Counters and histograms live in one registry per process (REGISTRY). What the database and
Redis know (uploads by state, the depth of the job queue) is read when Prometheus scrapes,
so every replica reports the same truth and nothing goes stale.

The API serves `GET /metrics`; `satreps worker` serves the same format on
SATREPS_WORKER_METRICS_PORT through `MetricsServer` (a small asyncio HTTP server in the
worker's own event loop, so a scrape can ask Redis without a thread of its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# GraphQL requests run from a millisecond (a cached read) to seconds (a nested export)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# jobs run from milliseconds (a skipped duplicate) to hours (a 50 GB file)
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600)

REQUEST_LATENCY = Histogram(
    "satreps_http_request_duration_seconds",
    "HTTP request latency; GraphQL requests labelled by operation name",
    ["route", "operation"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
REQUESTS = Counter(
    "satreps_http_requests",
    "HTTP requests by route, method and status code",
    ["route", "method", "status"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "satreps_request_errors",
    "Failed requests: kind graphql (top-level GraphQL errors), client (4xx), server (5xx)",
    ["route", "operation", "kind"],
    registry=REGISTRY,
)
ROOT_FIELDS = Counter(
    "satreps_graphql_root_fields",
    "Root fields of queries by how they were answered: compiled (one SQL statement), fast"
    " (a document seen before, its statements alone) or resolved (strawberry's resolvers)",
    ["how"],
    registry=REGISTRY,
)
WEBSOCKETS = Gauge(
    "satreps_websocket_connections",
    "Open WebSocket connections (GraphQL subscriptions)",
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "satreps_job_duration_seconds",
    "Job run time by job name and outcome (ready, failed, skipped, requeued, handed_back, ...)",
    ["job", "outcome"],
    buckets=JOB_BUCKETS,
    registry=REGISTRY,
)
JOB_WAIT = Histogram(
    "satreps_job_queue_wait_seconds",
    "Time from enqueue to start of a job (arq workers)",
    ["job"],
    buckets=LATENCY_BUCKETS + (60, 300),
    registry=REGISTRY,
)
JOBS_RUNNING = Gauge(
    "satreps_jobs_in_progress", "Jobs running in this process", ["job"], registry=REGISTRY
)

# operation names come from clients: keep the label set bounded
MAX_OPERATIONS = 500
_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if name in _operations:
        return name
    if len(_operations) >= MAX_OPERATIONS:
        return "other"
    _operations.add(name)
    return name


class _Families(Collector):
    """Metric families computed beforehand (at scrape time), for one exposition."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


async def queue_depth(redis: object, queue: str) -> GaugeMetricFamily:
    """Jobs waiting in the arq queue (a Redis sorted set), running ones included."""
    depth = await redis.zcard(queue)  # type: ignore[attr-defined]
    return GaugeMetricFamily(
        "satreps_queue_depth", "Jobs in the arq queue (waiting or running)", value=int(depth)
    )


Probe = Callable[[], Awaitable[Metric]]


async def exposition(probes: Sequence[Probe]) -> bytes:
    """This process's metrics, then the scrape-time ones; a failing probe is left out (and
    counted in satreps_scrape_errors) rather than failing the whole scrape."""
    families: list[Metric] = []
    failed = 0
    for probe in probes:
        try:
            families.append(await probe())
        except Exception:
            failed += 1
            log.warning("metrics probe %s failed", getattr(probe, "__name__", probe), exc_info=True)
    families.append(
        GaugeMetricFamily(
            "satreps_scrape_errors", "Scrape-time probes that failed in this scrape", value=failed
        )
    )
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(_Families(families))
    return generate_latest(REGISTRY) + generate_latest(scraped)


class MetricsServer:
    """GET /metrics on host:port, in the running event loop (the worker's)."""

    def __init__(self, host: str, port: int, probes: Sequence[Probe]) -> None:
        self.host, self.port = host, port
        self._probes = probes
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing we need
            parts = request_line.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, await exposition(self._probes)
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"GET /metrics\n"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
