"""Operability: Prometheus /metrics (latency by GraphQL operation, errors, uploads by state,
queue depth), the request id in X-Request-ID and in every log line, JSON logs, /readyz with
Redis, and the worker's own metrics server."""

from __future__ import annotations

import json
import logging
import logging.config
import socket
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from server.core.config import Settings
from server.core.logs import ContextFilter, JsonFormatter, logging_config, request_id_var
from server.core.metrics import MetricsServer, operation_label, queue_depth
from server.http.app import create_app
from server.http.middleware import BodyCache, operation_name
from tests.conftest import GraphQLClient
from tests.schema.test_uploads import START, draft_version

REDIS_URL = "redis://127.0.0.1:6379/6"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_latency_is_labelled_by_operation_and_errors_are_counted(client):
    # one app (not the differential gql fixture, whose twin would count in the registry too)
    gql = GraphQLClient(client)
    before = await scrape(client)
    await gql("query CountriesForMenu { countries { code } }")
    await gql.post("query Broken { nope }")  # a validation error: HTTP 200, top-level errors
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    latency = "satreps_http_request_duration_seconds_count"
    assert delta(latency, route="/graphql", operation="CountriesForMenu") == 1
    assert delta(latency, route="/graphql", operation="Broken") == 1
    errors = "satreps_request_errors_total"
    assert delta(errors, route="/graphql", operation="Broken", kind="graphql") == 1
    assert delta(errors, route="/graphql", operation="CountriesForMenu", kind="graphql") == 0
    assert delta(errors, route="/graphql", operation="anonymous", kind="client") == 1
    requests = "satreps_http_requests_total"
    assert delta(requests, route="/graphql", method="POST", status="200") == 2
    assert delta(requests, route="/graphql", method="POST", status="400") == 1


async def test_uploads_by_state_come_from_the_database(client, admin, factory):
    before = await scrape(client)
    version = await draft_version(admin, factory)
    for name in ("a.csv", "b.csv"):
        started = (await admin(START, {"v": version, "name": name, "size": 3}))["startUpload"]
        assert started["errors"] == []
    after = await scrape(client)
    name = "satreps_uploads"
    assert (
        value(after, name, state="awaiting_upload") - value(before, name, state="awaiting_upload")
        == 2
    )
    assert ("satreps_uploads", frozenset({("state", "ready")})) in samples(after)
    assert value(after, "satreps_scrape_errors") == 0
    assert "satreps_queue_depth" not in after  # embedded: no arq queue


def test_operation_names_are_read_from_the_request_and_bounded():
    assert operation_name({"operationName": "A", "query": "query B { x }"}) == "A"
    assert operation_name({"query": "# query Commented\nmutation Make($a: Int) { x }"}) == "Make"
    assert operation_name({"query": "{ countries { code } }"}) is None
    assert operation_name({"operationName": "not a name!", "query": "{ x }"}) is None
    assert operation_name(["not", "a", "dict"]) is None
    assert operation_label(None) == "anonymous"
    for i in range(600):  # a client inventing names cannot grow the label set for ever
        operation_label(f"Generated{i}")
    assert operation_label("YetAnotherNewName") == "other"


def test_small_bodies_are_parsed_once_by_their_bytes():
    cache = BodyCache(size=2, largest=64)
    raw = b'{"query": "query Q { themes { id } }"}'
    first = cache.parse(raw)
    assert first.payload == {"query": "query Q { themes { id } }"} and first.operation == "Q"
    assert cache.parse(bytes(raw)) is first  # equal bytes: the same parse, not parsed again
    other = b'{"query": "{ a }", "operationName": "A"}'
    assert cache.parse(other).operation == "A"
    cache.parse(b'{"query": "{ b }"}')  # a third body: the least recently used goes
    assert cache.parse(raw) is not first and cache.parse(raw).payload == first.payload
    large = b'{"query": "{ themes { id } }", "variables": {"pad": "' + b"x" * 64 + b'"}}'
    assert cache.parse(large) is not cache.parse(large)  # over `largest`: never kept
    broken = cache.parse(b'{"query": ')
    assert broken.payload is None and broken.operation is None
    assert cache.parse(b"\xff\xfe").payload is None  # not UTF-8: not JSON either


async def test_the_request_id_is_taken_returned_and_logged(client, gql, log_lines):
    given = "req-7f3a.42"
    began = time.perf_counter()
    response = await client.post(
        "/graphql",
        json={"query": "query Menu { countries { code } }"},
        headers={"X-Request-ID": given},
    )
    took_ms = (time.perf_counter() - began) * 1000
    assert response.headers["x-request-id"] == given
    fresh = await client.get("/healthz")
    assert len(fresh.headers["x-request-id"]) == 32  # made up when none was sent
    hostile = await client.get("/healthz", headers={"X-Request-ID": "a b\tc" + "x" * 200})
    assert hostile.headers["x-request-id"] != "a b\tc" + "x" * 200
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    (entry,) = [e for e in lines if e.get("request_id") == given]
    assert entry["operation"] == "Menu" and entry["status"] == 200
    assert entry["logger"] == "satreps.access" and entry["method"] == "POST"
    # the request's own time, at most what the client waited (a flag once shadowed the
    # timer: a duration of perf_counter() itself)
    assert 0 <= entry["duration_ms"] <= took_ms and entry["level"] == "INFO"


def test_json_lines_carry_context_extras_and_exceptions():
    formatter, context = JsonFormatter(), ContextFilter()
    token = request_id_var.set("r-1")
    try:
        try:
            raise ValueError("bad bytes")
        except ValueError:
            record = logging.getLogger("t").makeRecord(
                "t", logging.ERROR, __file__, 1, "upload %s: %s", (7, "ünïcode"), None
            )
            record.exc_info = __import__("sys").exc_info()
        record.upload_id = 7
        context.filter(record)
    finally:
        request_id_var.reset(token)
    line = formatter.format(record)
    assert "\n" not in line  # one object per line, the traceback included
    entry = json.loads(line)
    assert entry["message"] == "upload 7: ünïcode" and entry["request_id"] == "r-1"
    assert entry["upload_id"] == 7 and "ValueError: bad bytes" in entry["exception"]


def test_the_logging_config_is_accepted_in_both_formats():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        for fmt in ("json", "text"):
            logging.config.dictConfig(logging_config(Settings(log_format=fmt, _env_file=None)))
            assert root.handlers[0].filters and root.level == logging.INFO
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    with pytest.raises(ValueError, match="log_format"):
        Settings(log_format="xml", _env_file=None)


async def test_readyz_checks_redis_when_configured(settings, sessions, jobs, events):
    async def ready(redis_url: str) -> httpx.Response:
        configured = settings.model_copy(update={"redis_url": redis_url})
        app = create_app(configured, sessions=sessions, jobs=jobs, events=events)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
                return await http.get("/readyz")

    good = await ready(REDIS_URL)
    assert good.status_code == 200
    assert good.json() == {"status": "ready", "database": "ok", "redis": "ok", "objects": "ok"}
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    bad = await ready(f"redis://127.0.0.1:{dead}/0")
    assert bad.status_code == 503
    body = bad.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["redis"] != "ok" and body["redis"]


async def test_the_worker_metrics_server_reports_the_queue_depth():
    redis = Redis.from_url(REDIS_URL)
    queue = "satreps:test-metrics-queue"
    await redis.delete(queue)
    await redis.zadd(queue, {"job-a": 1, "job-b": 2, "job-c": 3})

    async def depth():
        return await queue_depth(redis, queue)

    server = MetricsServer("127.0.0.1", 0, [depth])
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            response = await http.get("/metrics")
            missing = await http.get("/other")
        assert response.status_code == 200
        assert value(response.text, "satreps_queue_depth") == 3
        assert "satreps_job_duration_seconds" in response.text
        assert missing.status_code == 404
    finally:
        await server.close()
    with socket.socket() as s:  # Redis gone: the probe fails, the scrape still answers
        s.bind(("127.0.0.1", 0))
        gone = Redis.from_url(f"redis://127.0.0.1:{s.getsockname()[1]}/0")

    async def unreachable():
        return await queue_depth(gone, queue)

    degraded_server = MetricsServer("127.0.0.1", 0, [unreachable])
    await degraded_server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{degraded_server.port}") as http:
            degraded = await http.get("/metrics")
        assert degraded.status_code == 200
        assert value(degraded.text, "satreps_scrape_errors") == 1
        assert "satreps_queue_depth" not in degraded.text
    finally:
        await degraded_server.close()
        await gone.aclose()
        await redis.aclose()
        cleanup = Redis.from_url(REDIS_URL)
        await cleanup.delete(queue)
        await cleanup.aclose()
