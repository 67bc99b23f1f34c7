"""The trusted-documents mode holds on WebSockets too: a subscription whose document is not
trusted is refused (PERSISTED_QUERY_NOT_IN_LIST); a trusted one runs."""

from __future__ import annotations

import json

import pytest
import websockets

from server.core.db import session_factory

TRUSTED = 'subscription { uploadStatus(uploadId: "VXBsb2FkOjE=") { state } }'
OTHER = 'subscription Other { uploadStatus(uploadId: "VXBsb2FkOjE=") { state } }'


@pytest.fixture
def sessions(real_engine):
    """This module's database (tests/fixtures/live.py), served live."""
    return session_factory(real_engine)


@pytest.fixture
def settings(settings, tmp_path):
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "status.graphql").write_text(TRUSTED)
    return settings.model_copy(
        update={"trusted_documents": documents, "trusted_documents_only": True}
    )


async def first_answer(ws, op_id: str, query: str) -> dict:
    await ws.send(json.dumps({"id": op_id, "type": "subscribe", "payload": {"query": query}}))
    while True:
        message = json.loads(await ws.recv())
        if message.get("id") == op_id:
            return message


async def test_only_trusted_subscriptions_run(live_server):
    async with websockets.connect(
        f"ws://{live_server}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        refused = await first_answer(ws, "1", OTHER)
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST", refused
        trusted = await first_answer(ws, "2", TRUSTED)
        # it ran: its resolver reads the id (not an upload's: a field error, not a refusal)
        assert trusted["type"] == "next", trusted
        assert trusted["payload"]["errors"][0]["extensions"]["code"] == "INVALID_ID"
