"""The one-machine cluster, real processes on loopback: PostgreSQL and Redis (this machine's),
SeaweedFS as one master, two volume servers, a filer and an S3 gateway, two `satreps serve`
and two `satreps worker` processes, HAProxy in front of the API processes. The servers and
workers reach PostgreSQL through PgBouncer in transaction pooling mode (its server pool
smaller than theirs, so transactions take turns on server connections).

Through the proxy, ten concurrent clients upload 50 files of mixed formats (three of them
bad) while each watches its uploads over a WebSocket subscription on API replica A
directly; meanwhile one worker and API replica B are SIGKILLed. Every accepted upload ends
READY (or FAILED with the expected code), once, with its raw object intact; the subscribers
see each upload's terminal state; the proxy routes around the dead replica.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import json
import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from gql.transport.websockets_protocol import WebsocketsProtocolTransportBase
from minio import Minio
from redis.asyncio import Redis
from sqlalchemy import func, select

from server.access.auth import Principal, ensure_account, issue_token
from server.core.db import make_engine, session_factory
from server.migrations import upgrade
from server.models import DatasetFile, DatasetVersion, Upload
from server.models.enums import AccountRole, InstitutionRole, ProjectPhase, UploadState
from tests.conftest import postgres_database
from tests.factories import Factory, gid
from tests.fixtures.cluster import (
    SATREPS,
    Cluster,
    Process,
    haproxy_binary,
    haproxy_status,
    in_order,
    metric,
    pk,
    start_haproxy,
    start_seaweed_cluster,
)
from tests.fixtures.pgbouncer import listening, pgbouncer_command, require_pgbouncer, through
from tests.fixtures.seaweed import SeaweedS3, free_ports
from tests.schema.test_uploads import COMPLETE, CREATE, START

pytestmark = pytest.mark.cluster

REDIS_URL = os.environ.get("SATREPS_TEST_CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/8")
CLIENTS = 10
FILES_PER_CLIENT = 5
LEASE_SECONDS = 5  # a killed worker's upload is taken over within lease + reconciler round
SUBSCRIBE = "subscription($u: ID!) { uploadStatus(uploadId: $u) { state attempts errorCode } }"
UPLOADS_OF = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    uploads { id filename state } } } }"""
UPLOAD_STATE = "query($u: ID!) { node(id: $u) { ... on DatasetUpload { state } } }"
TERMINAL = {"READY", "FAILED", "REJECTED"}
REFUSED = "AWAITING_UPLOAD"  # its bytes not those of the sha256 signed into the PUT


# --------------------------------------------------------------------------------------------
# The files: CSV, JSON, Parquet, opaque bytes, a few large CSVs, and three bad ones


@dataclass
class File:
    name: str
    body: bytes
    declared_sha: str
    expect: str = "READY"
    code: str | None = None

    @property
    def sha(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def make_files() -> list[File]:
    rng = random.Random(8)
    files: list[File] = []

    def add(name: str, body: bytes, **kw: Any) -> None:
        files.append(File(name, body, hashlib.sha256(body).hexdigest(), **kw))

    for n in range(3):  # large enough to be mid-processing when a worker dies
        rows = b"".join(
            b"ST-%04d,2023-%02d-%02d,%d.%03d,%d\n"
            % (i % 997, i % 12 + 1, i % 28 + 1, i % 13, rng.randrange(1000), i)
            for i in range(400_000)
        )
        add(f"large-{n}.csv", b"station,date,level_m,seq\n" + rows)
    for n in range(14):
        rows = "".join(f"{rng.choice('ABC')}-{i},{rng.random():.4f},{i}\n" for i in range(200))
        add(f"levels-{n}.csv", ("site,value,seq\n" + rows).encode())
    for n in range(12):
        records = [
            {"id": i, "river": rng.choice(["Chao Phraya", "Mekong"]), "m": i / 7}
            for i in range(100)
        ]
        add(f"records-{n}.json", json.dumps(records).encode())
    for n in range(10):
        table = pa.table({"id": list(range(300)), "v": [rng.random() for _ in range(300)]})
        sink = io.BytesIO()
        pq.write_table(table, sink)
        add(f"table-{n}.parquet", sink.getvalue())
    for n in range(8):
        add(f"blob-{n}.bin", bytes(rng.getrandbits(8) for _ in range(4096)))
    body = b"a,b\n1,2\n"
    files.append(File("wrong-sum.csv", body, "0" * 64, REFUSED))  # by the store, at the PUT
    add("broken.json", b'[{"a": 1}, {"b": ', expect="FAILED", code="UNREADABLE")
    add("broken.parquet", b"PAR1" + bytes(200) + b"PAR1", expect="FAILED", code="UNREADABLE")
    assert len(files) == CLIENTS * FILES_PER_CLIENT
    return files


# --------------------------------------------------------------------------------------------
# A client that goes through the proxy and retries what a dead replica left unanswered


@dataclass
class Api:
    http: httpx.AsyncClient
    token: str
    retries: int = 0

    async def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        for attempt in range(8):
            try:
                response = await self.http.post(
                    "/graphql", json={"query": query, "variables": variables}, headers=headers
                )
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code < 500:
                assert response.status_code == 200, response.text
                body = response.json()
                assert "errors" not in body, body
                return dict(body["data"])
            self.retries += 1
            await asyncio.sleep(0.2 * (attempt + 1))
        pytest.fail(f"no answer through the proxy after 8 tries: {query[:60]}")

    async def start(self, version: str, file: File) -> dict[str, Any]:
        variables = {
            "v": version,
            "name": file.name,
            "size": len(file.body),
            "sha": file.declared_sha,
        }
        started = (await self.call(START, variables))["startUpload"]
        if started["errors"] and started["errors"][0]["code"] == "DUPLICATE_NAME":
            # our first try was committed by a replica that died before answering
            uploads = (await self.call(UPLOADS_OF, {"v": version}))["node"]["uploads"]
            (mine,) = [u for u in uploads if u["filename"] == file.name]
            refreshed = await self.call(
                "mutation($u: ID!) { refreshUploadUrls(uploadId: $u) { instructions "
                "{ putUrl } errors { code message } } }",
                {"u": mine["id"]},
            )
            payload = refreshed["refreshUploadUrls"]
            assert payload["errors"] == [], payload
            return {"upload": {"id": mine["id"]}, "instructions": payload["instructions"]}
        assert started["errors"] == [], started
        return dict(started)

    async def complete(self, upload: str) -> None:
        done = (await self.call(COMPLETE, {"u": upload}))["completeUpload"]
        if done["errors"]:  # a retried completion: the first one went through
            state = (await self.call(UPLOAD_STATE, {"u": upload}))["node"]["state"]
            assert state in {"QUEUED", "PROCESSING", *TERMINAL}, (done, state)


@dataclass
class Watch:
    file: File
    upload_gid: str = ""
    states: list[str] = field(default_factory=list)
    error_code: str | None = None


def ws_transport(address: str, token: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{address}/graphql",
        init_payload={"Authorization": f"Bearer {token}"},
        subprotocols=[WebsocketsProtocolTransportBase.GRAPHQLWS_SUBPROTOCOL],
        ping_interval=None,
    )


async def follow(ws: Any, watch: Watch, first: asyncio.Event) -> None:
    request = GraphQLRequest(SUBSCRIBE, variable_values={"u": watch.upload_gid})
    async for result in ws.subscribe(request):
        status = result["uploadStatus"]
        watch.states.append(status["state"])
        watch.error_code = status["errorCode"]
        first.set()


async def run_client(
    api: Api,
    replica_a: str,
    version: str,
    files: list[File],
    s3: httpx.AsyncClient,
    completed: list[int],
) -> list[Watch]:
    watches = [Watch(f) for f in files]
    followers: list[asyncio.Task[None]] = []
    async with Client(transport=ws_transport(replica_a, api.token)) as ws:
        for watch in watches:
            started = await api.start(version, watch.file)
            watch.upload_gid = started["upload"]["id"]
            first = asyncio.Event()
            followers.append(asyncio.create_task(follow(ws, watch, first)))
            await asyncio.wait_for(first.wait(), 20)  # subscribed: the current state came
            put = await s3.put(started["instructions"]["putUrl"], content=watch.file.body)
            if watch.file.expect == REFUSED:  # no state follows: its follower is stopped
                assert put.status_code == 400 and "<Code>BadDigest</Code>" in put.text
                followers[-1].cancel()
                continue
            assert put.status_code == 200, put.text
            await api.complete(watch.upload_gid)
            completed.append(1)
        _, pending = await asyncio.wait(followers, timeout=60)
        for task in pending:  # reported below with the database's view of the upload
            task.cancel()
        await asyncio.gather(*followers, return_exceptions=True)
    return watches


# --------------------------------------------------------------------------------------------
# The cluster


@dataclass
class Deployment:
    cluster: Cluster
    s3: SeaweedS3
    database_url: str
    api_a: Process
    api_b: Process
    workers: list[Process]
    proxy: Process
    token: str
    factory: Factory

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"


def env_for(database_url: str, s3: SeaweedS3, objects: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update(
        SATREPS_DATABASE_URL=database_url,
        SATREPS_DB_PGBOUNCER="true",
        SATREPS_REDIS_URL=REDIS_URL,
        SATREPS_SERVE_PROCESSES="1",  # a replica killed is all of it (uvicorn would restart one)
        SATREPS_S3_ENDPOINT=s3.endpoint,
        SATREPS_S3_ACCESS_KEY=s3.access_key,
        SATREPS_S3_SECRET_KEY=s3.secret_key,
        SATREPS_S3_SECURE="false",
        SATREPS_S3_REGION=s3.region,
        SATREPS_OBJECT_DIR=str(objects),
        SATREPS_AUTO_MIGRATE="false",
        SATREPS_LOG_FORMAT="json",
        SATREPS_UPLOAD_LEASE_SECONDS=str(LEASE_SECONDS),
        SATREPS_UPLOAD_STALE_QUEUED_SECONDS="8",
        SATREPS_MAX_SUBSCRIPTIONS_PER_CONNECTION="20",
        PYTHONUNBUFFERED="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def flush_redis() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    if haproxy_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("haproxy is not installed: scripts/services installs it (apt-get)")
        pytest.skip("haproxy is not installed (apt-get install haproxy; scripts/services does)")
    require_pgbouncer()
    await flush_redis()
    cluster = Cluster(tmp_path)
    with postgres_database("satreps_cluster") as url:
        await asyncio.to_thread(upgrade, url)
        engine = make_engine(url)
        try:
            command, port = pgbouncer_command(tmp_path / "pgbouncer", url, pool=10)
            bouncer = cluster.spawn("pgbouncer", command, port=port)
            cluster.wait_until(bouncer, lambda: listening(port), "pgbouncer listening")
            pooled = through(url, port)  # what the servers and workers use
            s3 = await asyncio.to_thread(start_seaweed_cluster, cluster)
            objects = tmp_path / "objects"
            api_ports = free_ports(2)
            apis = [
                cluster.spawn(
                    f"api-{name}",
                    [SATREPS, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=env_for(pooled, s3, objects),
                    port=port,
                )
                for name, port in zip("ab", api_ports, strict=True)
            ]
            metrics_ports = free_ports(2)
            workers = [
                cluster.spawn(
                    f"worker-{n}",
                    [SATREPS, "worker"],
                    env=env_for(
                        pooled,
                        s3,
                        objects / f"worker-{n}",
                        SATREPS_WORKER_METRICS_PORT=str(port),
                    ),
                    port=port,
                )
                for n, port in enumerate(metrics_ports, start=1)
            ]
            for process in apis:
                health = f"http://127.0.0.1:{process.port}/readyz"
                await asyncio.to_thread(
                    cluster.wait_until, process, lambda h=health: ready(h), "ready"
                )
            for process in workers:
                metrics = f"http://127.0.0.1:{process.port}/metrics"
                await asyncio.to_thread(
                    cluster.wait_until, process, lambda m=metrics: ready(m), "serving metrics"
                )
            proxy = await asyncio.to_thread(
                start_haproxy, cluster, {"a": apis[0].port, "b": apis[1].port}
            )
            sessions = session_factory(engine)
            async with sessions() as session:
                account = await ensure_account(session, "cluster-admin", AccountRole.ADMIN)
                _, token = await issue_token(session, account, ttl=dt.timedelta(hours=1))
                await session.commit()
            factory = Factory(sessions, Principal(account_id=account.id, role=AccountRole.ADMIN))
            yield Deployment(cluster, s3, url, apis[0], apis[1], workers, proxy, token, factory)
        finally:
            cluster.stop_all()
            await engine.dispose()
            await flush_redis()


@asynccontextmanager
async def announced_events() -> AsyncIterator[dict[int, list[str]]]:
    """Every upload event published on Redis while the block runs, per upload, in order
    (consecutive repeats once: a retried job announces PROCESSING again)."""
    redis = Redis.from_url(REDIS_URL)
    pubsub = redis.pubsub()
    await pubsub.psubscribe("satreps:upload:*")
    told: dict[int, list[str]] = {}

    async def record() -> None:
        async for message in pubsub.listen():
            if message.get("type") != "pmessage":
                continue
            upload = int(message["channel"].decode().rsplit(":", 1)[1])
            state = json.loads(message["data"])["state"].upper()
            states = told.setdefault(upload, [])
            if not states or states[-1] != state:
                states.append(state)

    listener = asyncio.create_task(record())
    try:
        yield told
    finally:
        await asyncio.sleep(0.5)  # the last events on their way
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await pubsub.aclose()
        await redis.aclose()


# --------------------------------------------------------------------------------------------


async def test_uploads_survive_a_killed_worker_and_a_killed_api_replica(deployment: Deployment):
    d = deployment
    engine = make_engine(d.database_url)
    try:
        await scenario(d, session_factory(engine))
    finally:
        await engine.dispose()


async def scenario(d: Deployment, sessions: Any) -> None:
    files = make_files()
    random.Random(3).shuffle(files[3:])  # the large ones first in three clients' lists
    batches = [files[i::CLIENTS] for i in range(CLIENTS)]
    replica_a = f"127.0.0.1:{d.api_a.port}"
    worker_1 = d.workers[0]
    completed: list[int] = []
    killed_holding: list[int] = []

    project = await d.factory.project(phase=ProjectPhase.IMPLEMENTATION, countries=("TH",))
    institution = await d.factory.institution("JP")
    await d.factory.link(project.id, institution.id, InstitutionRole.JAPANESE_LEAD)

    async def kill_when_busy() -> None:
        """SIGKILL worker 1 while it holds an upload (or after 20 s), and API replica B."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            async with sessions() as session:
                held = (
                    await session.scalars(
                        select(Upload.id).where(
                            Upload.state == UploadState.PROCESSING,
                            Upload.lease_owner.like(f"%:{worker_1.pid}:%"),
                        )
                    )
                ).all()
            if held and len(completed) >= 10:
                killed_holding.extend(held)
                break
            await asyncio.sleep(0.02)
        worker_1.kill()
        d.api_b.kill()

    async with (
        httpx.AsyncClient(base_url=d.proxy_url, timeout=60) as http,
        httpx.AsyncClient(timeout=60) as s3,
    ):
        api = Api(http, d.token)
        created = await api.call(
            CREATE,
            {
                "input": {
                    "projectId": gid("Project", project.id),
                    "ownerInstitutionId": gid("Institution", institution.id),
                    "title": "Cluster test " + uuid.uuid4().hex[:6],
                    "licence": "CC-BY-4.0",
                }
            },
        )
        assert created["createDataset"]["errors"] == []
        version = created["createDataset"]["dataset"]["draft"]["id"]

        async with announced_events() as announced:
            killer = asyncio.create_task(kill_when_busy())
            results = await asyncio.gather(
                *(run_client(api, replica_a, version, batch, s3, completed) for batch in batches)
            )
            await killer
        watches = [w for batch in results for w in batch]

        # the proxy saw B die and sends everything to A
        status = await asyncio.to_thread(haproxy_status, d.proxy)
        assert status["b"].startswith("DOWN") and status["a"].startswith("UP"), status
        after = await http.get("/healthz")
        assert after.status_code == 200

        scraped_a = (await http.get(f"http://{replica_a}/metrics")).text
        scraped_w2 = (await http.get(f"http://127.0.0.1:{d.workers[1].port}/metrics")).text

    assert not worker_1.alive() and not d.api_b.alive() and d.workers[1].alive()

    # every upload ended as expected, in the database and for its subscriber
    async with sessions() as session:
        unfinished = [w for w in watches if not {*TERMINAL, w.file.expect} & set(w.states[-1:])]
        if unfinished:
            rows = [
                (w.file.name, w.states, await session.get(Upload, pk(w.upload_gid)))
                for w in unfinished
            ]
            details = "\n".join(
                f"{name}: seen {states}; db {u.state} attempts={u.attempts} "
                f"owner={u.lease_owner} lease={u.lease_expires_at} queued={u.queued_at}"
                for name, states, u in rows
            )
            pytest.fail(
                f"subscriptions without a terminal state:\n{details}\n{d.cluster.logs(4000)}"
            )
        uploads = {
            u.id: u
            for u in (
                await session.scalars(select(Upload).where(Upload.version_id == pk(version)))
            ).all()
        }
        files_per_upload = dict(
            (
                await session.execute(
                    select(DatasetFile.upload_id, func.count())
                    .where(DatasetFile.version_id == pk(version))
                    .group_by(DatasetFile.upload_id)
                )
            ).all()
        )
        versions = await session.scalar(
            select(func.count())
            .select_from(DatasetVersion)
            .where(
                DatasetVersion.dataset_id
                == (
                    select(DatasetVersion.dataset_id)
                    .where(DatasetVersion.id == pk(version))
                    .scalar_subquery()
                )
            )
        )
    assert len(uploads) == len(files) == 50  # no upload started twice
    assert versions == 1
    logs = d.cluster.logs()
    for watch in watches:
        upload = uploads[pk(watch.upload_gid)]
        expected = watch.file
        assert upload.state.value.upper() == expected.expect, (
            expected.name,
            upload.state,
            upload.error_code,
            upload.error_message,
            logs[-6000:],
        )
        if expected.code:
            assert upload.error_code == expected.code, (expected.name, upload.error_code)
        assert watch.states, expected.name
        assert watch.states[0] == "AWAITING_UPLOAD", (expected.name, watch.states)
        assert watch.states[-1] == expected.expect, (expected.name, watch.states)
        assert not TERMINAL & set(watch.states[:-1]), (expected.name, watch.states)
        # every state a process announced reached the subscriber, in order
        told = announced.get(upload.id, [])
        assert in_order(told, watch.states), (expected.name, told, watch.states)
        assert files_per_upload.get(upload.id, 0) == (1 if expected.expect == "READY" else 0)
        if expected.expect == "READY":
            assert upload.sha256 == expected.sha and upload.size == len(expected.body)

    # the upload the killed worker held was taken over and finished once
    assert killed_holding, "worker 1 held no upload when it was killed"
    print(f"killed worker held {killed_holding}; proxy retries seen by clients: {api.retries}")
    for upload_id in killed_holding:
        assert uploads[upload_id].state == UploadState.READY
        assert uploads[upload_id].attempts >= 2, uploads[upload_id].attempts

    # raw objects intact, byte for byte
    minio = Minio(
        d.s3.endpoint,
        access_key=d.s3.access_key,
        secret_key=d.s3.secret_key,
        secure=False,
        region=d.s3.region,
    )
    by_name = {w.file.name: w.file for w in watches}
    # (a refused PUT stores nothing: tests/server/test_storage.py)
    for upload in [u for u in uploads.values() if by_name[u.filename].expect != REFUSED]:
        response = await asyncio.to_thread(minio.get_object, "satreps-raw", upload.object_key)
        try:
            body = await asyncio.to_thread(response.read)
        finally:
            response.close()
            response.release_conn()
        assert hashlib.sha256(body).hexdigest() == by_name[upload.filename].sha, upload.filename

    # the operator's view agrees
    ready_count = sum(1 for u in uploads.values() if u.state == UploadState.READY)
    assert metric(scraped_a, "satreps_uploads", state="ready") == ready_count
    assert (
        metric(
            scraped_w2, "satreps_job_duration_seconds_count", job="process_upload", outcome="ready"
        )
        >= 1
    )
