"""uploadStatus over a real WebSocket (graphql-transport-ws) with the gql client: the
states arrive as the upload moves, and the token rides in connection_init."""

from __future__ import annotations

import asyncio
import socket

import pytest
import uvicorn
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportQueryError,
)
from gql.transport.websockets import WebsocketsTransport
from gql.transport.websockets_protocol import WebsocketsProtocolTransportBase

from server.app import create_app
from server.db import make_engine, session_factory
from server.migrations import upgrade
from server.models.enums import AccountRole
from tests.conftest import postgres_database
from tests.schema.test_uploads import COMPLETE, CSV, START, draft_version


@pytest.fixture(scope="module")
async def real_engine(dialect, tmp_path_factory):
    """A database of this module's own, used as production uses one: many sessions at once
    (the subscription reads while requests and jobs write), no shared test transaction."""
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('ws') / 'ws.db'}"
        upgrade(url)
        engine = make_engine(url)
        yield engine
        await engine.dispose()
        return
    with postgres_database("satreps_ws") as url:
        upgrade(url)
        engine = make_engine(url)
        yield engine
        await engine.dispose()


@pytest.fixture
def sessions(real_engine):
    return session_factory(real_engine)


SUBSCRIBE = GraphQLRequest(
    "subscription($u: ID!) { uploadStatus(uploadId: $u) { state attempts errorCode } }"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def live_server(settings, sessions, jobs, events):
    """The test's app served by uvicorn on loopback, in this event loop (same jobs, same bus)."""
    port = free_port()
    app = create_app(settings, sessions=sessions, jobs=jobs, events=events)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await task


def transport(address: str, token: str | None) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{address}/graphql",
        init_payload={"Authorization": f"Bearer {token}"} if token else {},
        subprotocols=[WebsocketsProtocolTransportBase.GRAPHQLWS_SUBPROTOCOL],
    )


async def test_subscriber_sees_each_state_until_ready(
    admin, factory, client, jobs, live_server, make_token
):
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "levels.csv", "size": len(CSV)}))[
        "startUpload"
    ]
    upload = started["upload"]["id"]
    token = await make_token(AccountRole.ADMIN)
    seen: list[str] = []
    first = asyncio.Event()
    request = GraphQLRequest(SUBSCRIBE.document, variable_values={"u": upload})

    async def follow() -> None:
        async with Client(transport=transport(live_server, token)) as session:
            async for result in session.subscribe(request):
                seen.append(result["uploadStatus"]["state"])
                first.set()

    follower = asyncio.create_task(follow())
    await asyncio.wait_for(first.wait(), 10)  # the current state comes first
    put_url = started["instructions"]["putUrl"].removeprefix("http://testserver")
    assert (await client.put(put_url, content=CSV)).status_code == 200
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    await asyncio.wait_for(follower, 10)
    assert seen == ["AWAITING_UPLOAD", "QUEUED", "PROCESSING", "READY"]


async def test_a_bad_token_is_refused_and_hidden_uploads_stay_hidden(
    admin, factory, live_server, make_token
):
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "a.csv", "size": 3}))["startUpload"]
    upload = started["upload"]["id"]
    with pytest.raises((TransportClosed, TransportConnectionFailed)):  # closed: 4403
        async with Client(transport=transport(live_server, "sh_wrong")) as session:
            await session.execute(GraphQLRequest("{ me { role } }"))
    outsider = await make_token(AccountRole.RESEARCHER)
    request = GraphQLRequest(SUBSCRIBE.document, variable_values={"u": upload})
    async with Client(transport=transport(live_server, outsider)) as session:
        with pytest.raises(TransportQueryError) as caught:
            async for _ in session.subscribe(request):
                pass
    assert "not found" in str(caught.value)
