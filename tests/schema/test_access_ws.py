"""WebSockets: only graphql-transport-ws, a cap on operations per connection, and the
uploadStatus subscription under the permission matrix (every caller x every level)."""

from __future__ import annotations

import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from server.core.db import session_factory
from tests.fixtures.access_world import LEVELS, ROLES, build_world
from tests.schema.test_access_matrix import EXPECTED

SUBSCRIBE = "subscription($u: ID!) { uploadStatus(uploadId: $u) { state } }"


@pytest.fixture
def sessions(real_engine):
    """This module's database (tests/fixtures/live.py), not the rolled-back transaction."""
    return session_factory(real_engine)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"max_subscriptions_per_connection": 2})


async def connect(server: str, token: str | None):
    ws = await websockets.connect(f"ws://{server}/graphql", subprotocols=["graphql-transport-ws"])
    payload = {"Authorization": f"Bearer {token}"} if token else {}
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def first_answer(ws, op_id: str, upload: str) -> dict:
    """The first message about this operation (skipping the ends of earlier ones)."""
    payload = {"query": SUBSCRIBE, "variables": {"u": upload}}
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": payload}))
    while True:
        message = json.loads(await ws.recv())
        if message.get("id") == op_id:
            return message


async def test_only_graphql_transport_ws(live_server):
    with pytest.raises((ConnectionClosed, websockets.InvalidStatus, websockets.NegotiationError)):
        async with websockets.connect(
            f"ws://{live_server}/graphql", subprotocols=["graphql-ws"]
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
            await ws.recv()


async def test_operations_per_connection_are_capped(live_server, sessions):
    world = await build_world(sessions)
    upload = world.samples["public"].gids()["upload"]
    ws = await connect(live_server, None)
    try:
        for op_id in ("1", "2"):
            message = await first_answer(ws, op_id, upload)
            assert message["type"] == "next", message
        refused = await first_answer(ws, "3", upload)
        assert refused["type"] == "error"
        assert refused["id"] == "3"
        assert "limit" in refused["payload"][0]["message"]
    finally:
        await ws.close()


@pytest.mark.parametrize("role", ROLES)
async def test_upload_status_follows_the_matrix(role, live_server, sessions):
    world = await build_world(sessions)
    ws = await connect(live_server, world.tokens[role])
    wrong = []
    try:
        for n, (level, sample) in enumerate(world.samples.items()):
            message = await first_answer(ws, str(n), sample.gids()["upload"])
            assert message["type"] == "next", message
            errors = message["payload"].get("errors")
            allowed = not errors
            if allowed:
                assert message["payload"]["data"]["uploadStatus"]["state"] == "AWAITING_UPLOAD"
                await ws.send(json.dumps({"id": str(n), "type": "complete"}))
            else:
                assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], errors
            if allowed != ("M" in EXPECTED[role][level]):
                wrong.append(level)
    finally:
        await ws.close()
    assert not wrong, f"{role}: uploadStatus wrong on {wrong}"
    assert set(LEVELS) == set(world.samples)
