"""uploadStatus over a real WebSocket (graphql-transport-ws) with the gql client: the
states arrive as the upload moves, and the token rides in connection_init."""

from __future__ import annotations

import asyncio
import hashlib
import io

import httpx
import pytest
import uvicorn
from gql import Client, GraphQLRequest
from gql.transport.exceptions import (
    TransportClosed,
    TransportConnectionFailed,
    TransportQueryError,
)
from gql.transport.file_upload import FileVar
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport
from gql.transport.websockets_protocol import WebsocketsProtocolTransportBase

from server.core.db import session_factory
from server.http.app import create_app
from server.models.enums import AccountRole
from tests.fixtures.live import free_port
from tests.schema.test_uploads import COMPLETE, CSV, START, draft_version


@pytest.fixture
def sessions(real_engine):
    """This module's database (tests/fixtures/live.py), not the rolled-back transaction."""
    return session_factory(real_engine)


REDIS_URL = "redis://127.0.0.1:6379/0"
SUBSCRIBE = GraphQLRequest(
    "subscription($u: ID!) { uploadStatus(uploadId: $u) { state attempts errorCode } }"
)


def transport(address: str, token: str | None) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{address}/graphql",
        init_payload={"Authorization": f"Bearer {token}"} if token else {},
        subprotocols=[WebsocketsProtocolTransportBase.GRAPHQLWS_SUBPROTOCOL],
    )


async def following(address: str, token: str, upload: str) -> tuple[asyncio.Task[None], list[str]]:
    """A subscriber to the upload's states over a real WebSocket, and the states it has
    seen, once the current state (which comes first) has arrived."""
    seen: list[str] = []
    first = asyncio.Event()
    request = GraphQLRequest(SUBSCRIBE.document, variable_values={"u": upload})

    async def follow() -> None:
        async with Client(transport=transport(address, token)) as session:
            async for result in session.subscribe(request):
                seen.append(result["uploadStatus"]["state"])
                first.set()

    follower = asyncio.create_task(follow())
    await asyncio.wait_for(first.wait(), 10)
    return follower, seen


async def test_subscriber_sees_each_state_until_ready(
    admin, factory, client, jobs, live_server, make_token
):
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "levels.csv", "size": len(CSV)}))[
        "startUpload"
    ]
    upload = started["upload"]["id"]
    token = await make_token(AccountRole.ADMIN)
    follower, seen = await following(live_server, token, upload)
    put_url = started["instructions"]["putUrl"].removeprefix("http://testserver")
    assert (await client.put(put_url, content=CSV)).status_code == 200
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    await asyncio.wait_for(follower, 10)
    assert seen == ["AWAITING_UPLOAD", "QUEUED", "PROCESSING", "READY"]


async def test_events_read_late_still_give_each_state_in_order(
    admin, factory, client, jobs, events, live_server, make_token
):
    """The subscriber reads the row after each event; when the worker has already moved on
    (here: every event held until the job is done), the states it passed through still
    arrive, in order, before the current one."""
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "levels.csv", "size": len(CSV)}))[
        "startUpload"
    ]
    upload = started["upload"]["id"]
    token = await make_token(AccountRole.ADMIN)
    follower, seen = await following(live_server, token, upload)
    held: list[tuple[str, dict]] = []
    deliver = events.publish

    async def hold(channel: str, message: dict) -> None:
        held.append((channel, message))

    events.publish = hold
    put_url = started["instructions"]["putUrl"].removeprefix("http://testserver")
    assert (await client.put(put_url, content=CSV)).status_code == 200
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    assert [m["state"] for _, m in held] == ["queued", "processing", "ready"]
    events.publish = deliver
    for channel, message in held:
        await deliver(channel, message)
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


START_GQL = """mutation($v: ID!, $name: String!, $size: Long!, $sha: String) {
      startUpload(datasetVersionId: $v, filename: $name, byteSize: $size, sha256: $sha) {
        upload { id } instructions { putUrl } errors { code message } } }"""
COMPLETE_GQL = (
    "mutation($u: ID!) { completeUpload(uploadId: $u) { upload { state } errors { code } } }"
)
UPLOAD_FILE_GQL = """mutation($v: ID!, $file: Upload!) { uploadFile(datasetVersionId: $v, file: $file) {
        upload { id state } errors { code message } } }"""
FILES_GQL = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
        files { nodes { name format profile preview artifacts { kind size sha256 } } } } } }"""


async def test_gql_client_end_to_end(admin, factory, jobs, live_server, make_token):
    """As a researcher's script would: gql over HTTP for the mutations, a PUT of the bytes,
    gql over WebSockets to wait for READY, then the profile and preview; and a small file
    through gql's multipart file upload."""
    version = await draft_version(admin, factory)
    token = await make_token(AccountRole.ADMIN)
    http = HTTPXAsyncTransport(
        url=f"http://{live_server}/graphql",
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
    )
    sha = hashlib.sha256(CSV).hexdigest()
    async with Client(transport=http) as api:
        variables = {"v": version, "name": "levels.csv", "size": len(CSV), "sha": sha}
        started = (await api.execute(GraphQLRequest(START_GQL, variable_values=variables)))[
            "startUpload"
        ]
        assert started["errors"] == []
        upload = started["upload"]["id"]
        async with httpx.AsyncClient(base_url=f"http://{live_server}") as raw:
            assert (
                await raw.put(started["instructions"]["putUrl"], content=CSV)
            ).status_code == 200
        states: list[str] = []
        first = asyncio.Event()

        async def follow() -> None:
            request = GraphQLRequest(SUBSCRIBE.document, variable_values={"u": upload})
            async with Client(transport=transport(live_server, token)) as ws:
                async for result in ws.subscribe(request):
                    states.append(result["uploadStatus"]["state"])
                    first.set()

        follower = asyncio.create_task(follow())
        await asyncio.wait_for(first.wait(), 10)
        complete = GraphQLRequest(COMPLETE_GQL, variable_values={"u": upload})
        assert (await api.execute(complete))["completeUpload"]["errors"] == []
        await jobs.drain()
        await asyncio.wait_for(follower, 10)
        assert states[-1] == "READY"

        tiny = FileVar(io.BytesIO(b"a,b\n1,2\n"), filename="tiny.csv")
        small = GraphQLRequest(UPLOAD_FILE_GQL, variable_values={"v": version, "file": tiny})
        sent = (await api.execute(small, upload_files=True))["uploadFile"]
        assert sent["errors"] == [] and sent["upload"]["state"] == "QUEUED"
        await jobs.drain()

        files_request = GraphQLRequest(FILES_GQL, variable_values={"v": version})
        files = {f["name"]: f for f in (await api.execute(files_request))["node"]["files"]["nodes"]}
    levels = files["levels.csv"]
    assert levels["format"] == "csv"
    assert levels["profile"]["rows"] == 3
    columns = {c["name"]: c for c in levels["profile"]["columns"]}
    assert columns["level_m"]["null_count"] == 1
    assert columns["level_m"]["max"] == 1.61
    assert levels["preview"][0]["station"] == "BKK-01" and len(levels["preview"]) == 3
    assert {a["kind"] for a in levels["artifacts"]} == {"parquet", "preview", "profile"}
    assert files["tiny.csv"]["profile"]["rows"] == 1


async def test_events_cross_processes_through_redis(
    admin, factory, client, settings, sessions, make_token
):
    """Production wiring: the worker publishes on its own Redis connection, the API replica
    serving the subscription listens on another; the subscriber still sees every state."""
    from server.core.events import RedisBus
    from server.core.jobs import InProcessJobs
    from server.storage import store_from_settings
    from workers.context import worker_context
    from workers.jobs import JOBS

    worker_bus, api_bus = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    ctx = worker_context(settings, sessions, store_from_settings(settings), worker_bus)
    worker = InProcessJobs(JOBS, ctx=ctx, autostart=False, concurrency=1)
    port = free_port()
    app = create_app(settings, sessions=sessions, jobs=worker, events=api_bus)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
            await asyncio.sleep(0.02)
        address = f"127.0.0.1:{port}"
        version = await draft_version(admin, factory)
        token = await make_token(AccountRole.ADMIN)
        async with httpx.AsyncClient(base_url=f"http://{address}") as api:
            headers = {"Authorization": f"Bearer {token}"}
            variables = {"v": version, "name": "levels.csv", "size": len(CSV), "sha": None}
            started = (
                await api.post(
                    "/graphql", json={"query": START, "variables": variables}, headers=headers
                )
            ).json()["data"]["startUpload"]
            upload = started["upload"]["id"]
            follower, seen = await following(address, token, upload)
            assert (
                await api.put(started["instructions"]["putUrl"], content=CSV)
            ).status_code == 200
            done = await api.post(
                "/graphql", json={"query": COMPLETE, "variables": {"u": upload}}, headers=headers
            )
            assert done.json()["data"]["completeUpload"]["errors"] == []
            await worker.drain()
            await asyncio.wait_for(follower, 10)
        assert seen == ["AWAITING_UPLOAD", "QUEUED", "PROCESSING", "READY"]
    finally:
        server.should_exit = True
        await serving
        await worker_bus.close()
