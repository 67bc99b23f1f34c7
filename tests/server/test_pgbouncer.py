"""The API and its jobs through a real PgBouncer in transaction pooling mode.

Several concurrent clients read (the compiled path and strawberry's), write (datasets,
uploads) and have their uploads processed by the in-process jobs, all through a PgBouncer
whose server pool is smaller than the clients' connection pool, so that transactions of
different clients take turns on the same server connections. asyncpg's per-connection
statement names ("__asyncpg_stmt_1__") collide there unless SATREPS_DB_PGBOUNCER is on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from pathlib import Path

import httpx
import pytest

from server.access.auth import Principal, ensure_account, issue_token
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.http.app import create_app
from server.migrations import upgrade
from server.models.enums import AccountRole
from tests.conftest import GraphQLClient, postgres_database
from tests.factories import Factory
from tests.fixtures.pgbouncer import running_pgbouncer
from tests.schema.test_uploads import COMPLETE, UPLOAD, draft_version, upload_file

CLIENTS = 6
ROUNDS = 4
READS = 15
PROJECTS = "{ projects(first: 5) { edges { node { id title institutions { role institution { id nameEn } } } } } }"
NODE = "query($v: ID!) { node(id: $v) { ... on DatasetVersion { id uploads { id state } } } }"


async def _client(admin: GraphQLClient, http: httpx.AsyncClient, factory: Factory, n: int):
    version = await draft_version(admin, factory)
    uploads = []
    for round_ in range(ROUNDS):
        body = f"site,value\nA-{n},{round_}\nB-{n},{round_ + 1}\n".encode()
        sha = hashlib.sha256(body).hexdigest()
        upload = await upload_file(admin, http, version, f"c{n}-{round_}.csv", body, sha)
        done = (await admin(COMPLETE, {"u": upload}))["completeUpload"]
        assert done["errors"] == [], done
        uploads.append(upload)
        await admin(PROJECTS)
        await admin(NODE, {"v": version})
    return uploads


async def _reads(admin: GraphQLClient) -> None:
    for _ in range(READS):
        await admin(PROJECTS)
        await admin(PROJECTS, token="")


async def _ready(admin: GraphQLClient, upload: str) -> str:
    for _ in range(300):
        state = (await admin(UPLOAD, {"u": upload}))["node"]
        if state["state"] in {"READY", "FAILED", "REJECTED"}:
            return str(state["state"])
        await asyncio.sleep(0.1)
    pytest.fail(f"upload {upload} not processed: {state}")


async def test_reads_writes_and_jobs_through_pgbouncer_transaction_pooling(tmp_path: Path):
    with postgres_database("satreps_pgbouncer") as direct:
        with running_pgbouncer(tmp_path / "pgbouncer", direct, pool=2) as pooled:
            await asyncio.to_thread(lambda: upgrade(pooled, pgbouncer=True))
            settings = Settings(
                database_url=pooled,
                db_pgbouncer=True,
                db_pool_size=8,
                object_dir=tmp_path / "objects",
                auto_migrate=False,
                inprocess_jobs=3,
            )
            engine = make_engine(pooled, pgbouncer=True)
            sessions = session_factory(engine)
            try:
                async with sessions() as session:
                    account = await ensure_account(session, "pooled-admin", AccountRole.ADMIN)
                    _, token = await issue_token(session, account, ttl=dt.timedelta(hours=1))
                    await session.commit()
                principal = Principal(account_id=account.id, role=AccountRole.ADMIN)
                factory = Factory(sessions, principal)
                app = create_app(settings)
                transport = httpx.ASGITransport(app=app)
                async with app.router.lifespan_context(app):
                    async with httpx.AsyncClient(
                        transport=transport, base_url="http://testserver", timeout=60
                    ) as http:
                        admin = GraphQLClient(http, token)
                        batches = await asyncio.gather(
                            *(_client(admin, http, factory, n) for n in range(CLIENTS))
                        )
                        states = [await _ready(admin, u) for batch in batches for u in batch]
                        # the compiled fast path, answered from kept plans, many at once
                        await asyncio.gather(*(_reads(admin) for _ in range(2 * CLIENTS)))
            finally:
                await engine.dispose()
            assert states == ["READY"] * (CLIENTS * ROUNDS)
            log = (tmp_path / "pgbouncer" / "pgbouncer.log").read_text()
            assert "prepared statement" not in log
