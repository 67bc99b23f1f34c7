"""Shared fixtures: real SQLite and real PostgreSQL, migrated with Alembic, one rolled-back
transaction per test, and the HTTP app driven as a client would."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.access.auth import Principal, ensure_account, issue_token
from server.core.config import Settings
from server.core.db import make_engine
from server.core.events import MemoryBus
from server.core.jobs import InProcessJobs
from server.migrations import upgrade
from server.models.enums import AccountRole
from server.storage import store_from_settings
from tests.factories import Factory
from tests.twin import TWIN, sending

# the test process starts hundreds of apps: server/core/heap.py's freeze would keep each
# test's leftovers for the session (tests/server/test_heap.py turns it on where it is tested;
# a `satreps serve` a test starts inherits this unless the test gives its own environment)
os.environ.setdefault("SATREPS_GC_TUNING", "false")

pytest.register_assert_rewrite("tests.fixtures")  # before the import below: plugins' asserts
from tests.fixtures.clients import app_client  # noqa: E402

# fixtures that tests ask for by name, wherever they are: clients (compiled_client,
# strawberry_client), demo_graph (demo, the demo graph loaded once per module), live
# (real_engine, live_server), notify (webhook receivers, SMTP), seaweed (a real S3), served
# (a real `satreps serve` for the command-line clients: server, token, project), stack (the
# production stack for fault tests); a fixture there starts only when a test asks for it
pytest_plugins = [
    "tests.fixtures.access_log",
    "tests.fixtures.clamd",
    "tests.fixtures.clients",
    "tests.fixtures.datacite",
    "tests.fixtures.demo_graph",
    "tests.fixtures.live",
    "tests.fixtures.notify",
    "tests.fixtures.seaweed",
    "tests.fixtures.served",
    "tests.fixtures.stack",
]

PG_ADMIN_URL = os.environ.get(
    "SATREPS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
DIALECTS = ["sqlite", "postgres"]


@contextmanager
def postgres_database(prefix: str = "satreps_test") -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    import asyncio

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"

    async def admin(sql: str) -> None:
        engine = make_engine(PG_ADMIN_URL)
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql(sql)
        await engine.dispose()

    def run(sql: str) -> None:
        import threading

        thread = threading.Thread(target=lambda: asyncio.run(admin(sql)))
        thread.start()
        thread.join()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session", params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def engine(dialect: str, request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    url = request.getfixturevalue(f"{dialect}_url")
    engine = make_engine(url)
    yield engine
    await engine.dispose()


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0
        self.active = False

    def __call__(self, *_: Any) -> None:
        if self.active and not TWIN.sending:
            self.count += 1

    @contextmanager
    def measure(self) -> Iterator[StatementCounter]:
        self.count, self.active = 0, True
        try:
            yield self
        finally:
            self.active = False


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[Any]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        yield conn
        await outer.rollback()


@pytest.fixture
def sessions(connection: Any) -> async_sessionmaker[AsyncSession]:
    """Every session of the test joins one outer transaction, rolled back at the end."""
    return async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=tmp_path / "objects",
        prov_copy_window_seconds=0.05,  # drain() waits for the deferred copy job
    )


@pytest.fixture
def events() -> MemoryBus:
    return MemoryBus()


@pytest.fixture
def jobs(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], events: MemoryBus
) -> InProcessJobs:
    """The worker's job functions, held until the test calls `await jobs.drain()`."""
    from workers.context import worker_context
    from workers.jobs import JOBS

    ctx = worker_context(settings, sessions, store_from_settings(settings), events)
    # one at a time: every session of a test shares one connection (the rolled-back
    # transaction), which cannot serve two jobs' statements at once
    return InProcessJobs(JOBS, ctx=ctx, autostart=False, concurrency=1)


@pytest.fixture
async def client(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    jobs: InProcessJobs,
    events: MemoryBus,
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, sessions, jobs, events) as http:
        yield http


# SATREPS_TEST_DIFFERENTIAL=1: every query a test sends through `gql` is sent to a second
# app with the compiled read path off as well, and both answers (status and body) must be
# identical (scripts/test's second pass)
DIFFERENTIAL = os.environ.get("SATREPS_TEST_DIFFERENTIAL") == "1"


@pytest.fixture
async def strawberry_twin(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    jobs: InProcessJobs,
    events: MemoryBus,
) -> AsyncIterator[httpx.AsyncClient | None]:
    if not DIFFERENTIAL:
        yield None
        return
    resolved = settings.model_copy(update={"compiled_reads": False})
    async with app_client(resolved, sessions, jobs, events) as http:
        yield http


# reads with effects of their own, sent once: a download URL is audited and signed with
# its expiry time; a provenance export is written to the provenance bucket and its URL
# signed with its expiry time (two sends straddling a second differ)
EFFECTFUL_FIELDS = ("downloadUrl", "provenanceExport")


def _reads_only(query: str) -> bool:
    """Whether a document holds queries without effects only (mutations, subscriptions and
    effectful fields are sent once)."""
    if any(name in query for name in EFFECTFUL_FIELDS):
        return False
    try:
        document = graphql.parse(query)
    except graphql.GraphQLError:
        return True  # both paths answer the syntax error
    return all(
        d.operation == graphql.OperationType.QUERY
        for d in document.definitions
        if isinstance(d, graphql.OperationDefinitionNode)
    )


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient
    token: str | None = None
    twin: httpx.AsyncClient | None = None  # the strawberry-only app (DIFFERENTIAL)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        token = token if token is not None else self.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {"query": query, "variables": variables or {}}
        response = await self.http.post("/graphql", json=body, headers=headers)
        if self.twin is not None and _reads_only(query):
            with sending():
                resolved = await self.twin.post("/graphql", json=body, headers=headers)
            assert (resolved.status_code, resolved.json()) == (
                response.status_code,
                response.json(),
            ), f"the compiled and strawberry paths answer differently: {query}"
        return response

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> dict[str, Any]:
        """Execute and return `data`; fails the test on any GraphQL error."""
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def errors(
        self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
    ) -> list[dict[str, Any]]:
        """Execute a request expected to fail; return its top-level errors."""
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("errors"), body
        return body["errors"]

    def as_(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.http, token, self.twin)


@pytest.fixture
def gql(client: httpx.AsyncClient, strawberry_twin: httpx.AsyncClient | None) -> GraphQLClient:
    """An anonymous client; `gql.as_(token)` acts with a token."""
    return GraphQLClient(client, twin=strawberry_twin)


@pytest.fixture
def make_token(sessions: async_sessionmaker[AsyncSession]) -> Any:
    async def make(
        role: AccountRole,
        *,
        user: str | None = None,
        researcher_id: int | None = None,
        institution_id: int | None = None,
        ttl: dt.timedelta = dt.timedelta(days=1),
    ) -> str:
        async with sessions() as session:
            account = await ensure_account(
                session,
                user or f"{role.value}-{uuid.uuid4().hex[:6]}",
                role,
                researcher_id=researcher_id,
                institution_id=institution_id,
            )
            _, plaintext = await issue_token(session, account, ttl=ttl)
            await session.commit()
        return plaintext

    return make


@pytest.fixture
async def factory(sessions: async_sessionmaker[AsyncSession]) -> Factory:
    """Creates rows through the services as an administrator."""
    async with sessions() as session:
        account = await ensure_account(session, "factory-admin", AccountRole.ADMIN)
        await session.commit()
    return Factory(sessions, Principal(account_id=account.id, role=AccountRole.ADMIN))


@pytest.fixture
async def admin(gql: GraphQLClient, make_token: Any) -> GraphQLClient:
    return gql.as_(await make_token(AccountRole.ADMIN))


@pytest.fixture
async def manager(gql: GraphQLClient, make_token: Any) -> GraphQLClient:
    return gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
