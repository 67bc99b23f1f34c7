"""The typed per-request context every resolver receives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.types import Info as _Info

from schema.loaders import Loaders
from server.access.auth import Principal
from server.core.config import Settings
from server.core.events import EventBus
from server.core.jobs import JobQueue
from server.core.url_signing import UrlSigner
from server.storage import ObjectStore

log = logging.getLogger(__name__)


@dataclass
class Context:
    session: AsyncSession
    principal: Principal
    settings: Settings
    store: ObjectStore
    signer: UrlSigner
    jobs: JobQueue
    events: EventBus
    sessions: async_sessionmaker[AsyncSession]
    loaders: Loaders = field(init=False)
    connection_params: dict[str, Any] | None = None  # WebSocket connection_init payload
    client: str | None = None  # the caller's address (anonymous callers are limited by it)
    user_agent: str | None = None  # recorded as the client of an upload (PROV)
    # the caller's Accept-Language, best first (server.core.languages.accepted_languages):
    # the second step of a language-tagged text's fallback chain
    languages: tuple[str, ...] = ()
    response: Any = None  # the HTTP response being built (headers); None on a WebSocket
    limiter: Any = None  # the RateLimiter (server/access/ratelimit.py)
    rate_limit: Any = None  # this request's Charge, set before execution
    # a Charge the fast path already took for this request, with its points and account,
    # before handing the request on: the execution takes it instead of charging again
    prepaid: tuple[int | None, int, Any] | None = None
    # root fields of queries may answer with the database's JSON text (schema/compiled):
    # only where the response is encoded by GraphQLEndpoint.encode_json (HTTP)
    raw_json: bool = False
    fast_key: Any = None  # this request's key in the compiled documents' fast path
    fast_plans: Any = None  # the app's FastPlans (schema/compiled/fast.py)
    query_points: int | None = None  # what the request took from the rate-limit budget
    executing: bool = False  # past parse, validation and the checks before execution
    # the trusted-documents mode's test of a document's text (server/http/persisted.py);
    # None: any document runs
    trusted: Callable[[str], bool] | None = None
    root_fields: int = 0  # root fields executed, and those answered compiled:
    compiled_roots: list[tuple[str, Any]] = field(default_factory=list)
    # jobs to enqueue once the mutation's transaction has committed, never before
    after_commit: list[tuple[str, tuple[Any, ...], str]] = field(default_factory=list)
    events_after_commit: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # what undoes, outside the database, the work of a mutation whose transaction rolled
    # back (a multipart session opened in the object store for an upload that never was)
    on_rollback: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # graphql-core resolves sibling fields concurrently; one AsyncSession must not
    # run two statements at once, so every use of it takes this lock.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.db, self.principal)

    def set_principal(self, principal: Principal) -> None:
        self.principal = principal
        self.loaders = Loaders(self.db, principal)

    def enqueue_after_commit(self, name: str, *args: Any, job_id: str) -> None:
        self.after_commit.append((name, args, job_id))

    async def flush_jobs(self) -> None:
        # events first: a worker's own events for a job must come after the one that queued it
        events, self.events_after_commit = self.events_after_commit, []
        for channel, message in events:
            try:
                await self.events.publish(channel, message)
            except Exception:  # an event lost is a refresh missed; the job must still go
                log.warning("could not publish on %s", channel, exc_info=True)
        pending, self.after_commit = self.after_commit, []
        for name, args, job_id in pending:
            await self.jobs.enqueue(name, *args, job_id=job_id)

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        async with self.lock:
            yield self.session


Info = _Info[Context, None]
