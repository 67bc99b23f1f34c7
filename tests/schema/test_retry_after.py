"""Every 429 says when to come back: `Retry-After` (seconds until the budget's window ends),
beside the X-RateLimit-* headers, over POST (strawberry and the compiled fast path) and GET;
a WebSocket's refusal carries the same in the error's `retryAfter` extension."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import websockets

from server.access.ratelimit import Charge
from server.core.db import session_factory
from tests.schema.test_protection import api

QUERY = "{ themes { code } }"


@pytest.fixture
def sessions(real_engine):
    """This module's database (tests/fixtures/live.py): the WebSocket test serves it live."""
    return session_factory(real_engine)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"rate_limit_anonymous_points": 2})


def test_retry_after_counts_whole_seconds_to_the_reset():
    reset = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    charge = Charge(limit=2, used=2, cost=1, reset_at=reset, allowed=False)
    assert charge.retry_after(now=reset.timestamp() - 90.2) == 91
    assert charge.retry_after(now=reset.timestamp()) == 1  # never 0: the window just turned


def assert_refused(response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    retry = int(response.headers["retry-after"])
    reset = int(response.headers["x-ratelimit-reset"])
    assert 1 <= retry <= 3600
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.headers["x-ratelimit-limit"] == "2"
    assert response.json()["errors"][0]["extensions"]["retryAfter"] == retry
    assert reset - 3600 <= dt.datetime.now(dt.UTC).timestamp() + retry <= reset + 1


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_every_429_says_when_to_retry(settings, sessions, jobs, events, method):
    async with api(settings, sessions, jobs, events) as gql:
        for _ in range(2):  # the second from the compiled fast path (POST)
            if method == "POST":
                response = await gql.http.post("/graphql", json={"query": QUERY})
            else:
                response = await gql.http.get("/graphql", params={"query": QUERY})
            assert response.status_code == 200, response.text
            assert "retry-after" not in response.headers  # only when refused
        if method == "POST":
            refused = await gql.http.post("/graphql", json={"query": QUERY})
        else:
            refused = await gql.http.get("/graphql", params={"query": QUERY})
        assert_refused(refused)


async def test_a_websocket_refusal_says_when_to_retry(live_server):
    subscribe = 'subscription { uploadStatus(uploadId: "VXBsb2FkOjE=") { state } }'
    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for op in ("1", "2", "3"):
            payload = {"query": subscribe}
            await ws.send(json.dumps({"id": op, "type": "subscribe", "payload": payload}))
        refusal = None
        while refusal is None:
            message = json.loads(await ws.recv())
            if message.get("id") == "3" and message["type"] in ("error", "next"):
                refusal = message
    errors = refusal["payload"] if refusal["type"] == "error" else refusal["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "RATE_LIMITED", refusal
    assert 1 <= errors[0]["extensions"]["retryAfter"] <= 3600
