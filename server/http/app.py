"""create_app(settings) -> Starlette: /graphql, /healthz, /readyz."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from cross_web import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.unset import UNSET, UnsetType

from schema import build_schema
from schema.context import Context
from server.access.auth import ANONYMOUS, AuthError, Principal
from server.core.config import Settings, get_settings
from server.core.db import (
    DatabaseUnavailable,
    database_unavailable,
    engine_from_settings,
    session_factory,
    writer_sessions,
)
from server.core.events import EventBus, bus_from_url
from server.core.fast_reads import fast_reads
from server.core.heap import settle_heap
from server.core.jobs import ArqJobs, InProcessJobs, JobQueue
from server.core.languages import accepted_languages
from server.core.url_signing import UrlSigner
from server.http.caching import cached_get
from server.http.fast_answer import (
    FAST_KEY,
    FRONT_TRIED,
    PREPAID_KEY,
    FastPath,
    client_address,
    timeout_error,
)
from server.http.forwarded import base_url
from server.http.media import GRAPHQL_RESPONSE, negotiate, request_error_status
from server.http.middleware import BODY_STATE, graphql_error, too_large
from server.http.persisted import PersistedDocuments, Refusal
from server.http.upload_endpoint import UploadLookup, upload_endpoint
from server.storage import ObjectStore, store_from_settings

_STATE_KEY = "satreps"
_MEDIA_KEY = "satreps.media"  # the response's media type (server/http/media.py)
_CONTEXT_KEY = "satreps.context"  # the request's Context, for process_result
_RESOLVED_KEY = "satreps.persisted"  # (Resolved, text) of a persisted query, to register


def _refusal(error: HTTPException, method: str, media: str) -> Response:
    """Strawberry's refusal of a request, as its own (plain text); a mutation or
    subscription sent over GET is 405 with Allow: POST (GraphQL over HTTP)."""
    if method == "GET" and isinstance(error.__cause__, InvalidOperationTypeError):
        return graphql_error(
            405,
            "METHOD_NOT_ALLOWED",
            f"{error.reason}: send them with POST",
            media=media,
            Allow="POST",
        )
    return PlainTextResponse(error.reason, status_code=error.status_code)


class GraphQLEndpoint(GraphQL[Context, None]):
    """Strawberry's ASGI view with a session, a principal and limits around each request."""

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        signer: UrlSigner,
        jobs: JobQueue,
        events: EventBus,
    ) -> None:
        from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

        from server.http.guard import Guard

        super().__init__(
            build_schema(),
            graphql_ide="graphiql" if settings.graphiql else None,
            multipart_uploads_enabled=True,
            # the one maintained protocol; no legacy graphql-ws, no HTTP streams
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        )
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self.signer = signer
        self.jobs = jobs
        self.events = events
        self.guard = Guard(settings, sessions, store, signer, events)
        self.persisted = PersistedDocuments.from_settings(settings, self.schema._schema)  # type: ignore[attr-defined]
        reads = fast_reads(
            sessions, pool_size=settings.db_pool_size, pgbouncer=settings.db_pgbouncer
        )
        self.fast = FastPath(settings, reads, self.guard, self.persisted)
        self.fast_plans = self.fast.plans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if request.method in ("GET", "HEAD") and "download" in request.query_params:
            await (await self.guard.download(request))(scope, receive, send)
            return
        media = negotiate(request.headers.get("accept"))
        scope.setdefault("state", {})[_MEDIA_KEY] = media
        rejection = self._check_size(request, media)
        if rejection is not None:
            await rejection(scope, receive, send)
            return
        if request.method == "GET" and not self.should_render_graphql_ide(request):
            send = cached_get(
                send,
                anonymous="authorization" not in request.headers,
                max_age=self.settings.get_cache_max_age,
                if_none_match=request.headers.get("if-none-match"),
            )
        fast = self.settings.compiled_reads and request.method in ("GET", "POST")
        tried = False  # the fast path, before a session is opened
        if fast:
            header = request.headers.get("authorization")
            # the middleware's pass tried it before routing (a JSON POST): not again here
            front = scope.get("state", {}).get(FRONT_TRIED, False)
            hinted = self.guard.hinted(header) if header and not front else None
            rest: Receive | None = receive
            if not header:  # anonymous: nothing to look up
                rest, tried = receive, True
                if not front:
                    rest = await self._fast_path(request, None, ANONYMOUS, scope, send)
            elif hinted is not None:  # a token seen before: the token and the data at once
                rest = await self._fast_path(request, None, hinted[1], scope, send, hinted[0])
            if rest is None:
                return
            receive = rest
        async with self.sessions() as session:
            try:
                principal = await self._principal(session, request)
            except AuthError as error:
                response: Response = graphql_error(
                    401,
                    "UNAUTHENTICATED",
                    str(error),
                    media=media,
                    **{"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
            scope.setdefault("state", {})[_STATE_KEY] = (session, principal)
            if fast and not tried:
                request = Request(scope, receive)
                rest = await self._fast_path(request, session, principal, scope, send)
                if rest is None:
                    return
                receive = rest
            try:
                response = await self.run(Request(scope, receive))
            except HTTPException as error:
                response = _refusal(error, request.method, media)
            await response(scope, receive, send)

    async def _fast_path(
        self,
        request: Request,
        session: AsyncSession | None,
        principal: Principal,
        scope: Scope,
        send: Send,
        token_hash: str | None = None,
    ) -> Receive | None:
        """The fast path (server/http/fast_answer.py) for a request that reached the
        endpoint: None when answered, else the receive to go on with."""
        ctype = request.headers.get("content-type", "")
        if request.method == "POST" and not ctype.startswith("application/json"):
            return request.receive  # uploads stream on, unread
        state = scope.setdefault("state", {})
        parsed = state.get(BODY_STATE)  # the middleware's read of the body, left to replay
        if parsed is None:  # not read there (an app without server.http.middleware): strawberry's
            return request.receive
        answered = await self.fast.answer(
            scope,
            parsed,
            principal,
            request.headers.get("accept-language"),
            session=session,
            token_hash=token_hash,
        )
        if answered is None:
            return request.receive
        media = state.get(_MEDIA_KEY, "application/json")
        response = Response(answered.body, media_type=media, headers=answered.headers)
        await response(scope, request.receive, send)
        return None

    async def aclose(self) -> None:
        """The fast path's own connections, if it has any (the app's lifespan ends with them)."""
        await self.fast.close()

    def _check_size(self, request: Request, media: str) -> Response | None:
        length = request.headers.get("content-length")
        multipart = request.headers.get("content-type", "").startswith("multipart/form-data")
        if multipart:
            # a form post is a "simple" request browsers send cross-site without asking:
            # demand a header that forces a CORS preflight (as Apollo Server does)
            if not (
                request.headers.get("apollo-require-preflight")
                or request.headers.get("x-apollo-operation-name")
            ):
                return graphql_error(
                    400,
                    "CSRF_PREFLIGHT_REQUIRED",
                    "multipart requests need an Apollo-Require-Preflight header",
                    media=media,
                )
            if length is None:
                return graphql_error(411, "LENGTH_REQUIRED", "send a Content-Length", media=media)
        limit = self.settings.max_api_upload_bytes if multipart else self.settings.max_body_bytes
        if length is not None and (not length.isdigit() or int(length) > limit):
            return too_large(limit, media)
        return None

    async def _principal(self, session: AsyncSession, request: Request) -> Principal:
        return await self.guard.principal(session, request.headers.get("authorization"))

    async def process_result(self, request: Request, result: Any) -> Any:
        """Field suggestions ('Did you mean ...?') are dropped when the setting is off. In
        application/graphql-response+json a request error has no data and a 4xx status."""
        from schema.protection import without_suggestions

        for error in result.errors or []:
            if error.original_error is not None and database_unavailable(error.original_error):
                raise DatabaseUnavailable(error.message) from error.original_error
        response = await super().process_result(request, result)
        if not self.settings.field_suggestions:
            errors: list[Any] = list(response.get("errors") or [])
            for error in errors:
                error["message"] = without_suggestions(error["message"])
        state = request.scope.get("state", {})
        context: Context | None = state.get(_CONTEXT_KEY)
        new_media = state.get(_MEDIA_KEY) == GRAPHQL_RESPONSE
        if new_media and context is not None and result.data is None:
            status = request_error_status(result.errors or [], context.executing)
            if status is not None:
                context.response.status_code = status
                response.pop("data", None)  # a request error: no data entry
        registering = state.get(_RESOLVED_KEY)
        if registering is not None and context is not None and context.executing:
            self.persisted.register(*registering)  # the document has validated
        return response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """Strawberry's response, in the media type the client accepts (set in get_context)."""
        response = super().create_response(response_data, sub_response)
        media = sub_response.media_type
        if media is not None:
            response.media_type = media
            response.headers["content-type"] = media
        return response

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's GET without a document (a persisted query's hash is one)."""
        params = request.query_params
        return "extensions" not in params and super().should_render_graphql_ide(request)

    def _persisted_document(self, request: Request, context: Context, data: Any) -> Any:
        """The request with its persisted document's text (server/http/persisted.py), or an
        ExecutionResult that refuses it."""
        from dataclasses import replace

        from graphql import GraphQLError
        from strawberry.types import ExecutionResult

        if isinstance(data, list):
            return data  # batches are off
        payload = {"query": data.query, "extensions": data.extensions}
        resolved = self.persisted.resolve(payload)
        if isinstance(resolved, Refusal):
            if resolved.status != 200:
                context.response.status_code = resolved.status
            error = GraphQLError(resolved.message, extensions={"code": resolved.code.value})
            return ExecutionResult(data=None, errors=[error])
        if resolved.query is not None:
            data = replace(data, query=resolved.query)
        if resolved.register is not None:
            request.scope["state"][_RESOLVED_KEY] = (resolved, data.query)
        return data

    async def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        """Queries and mutations end within the execution timeout (a mutation cut short
        rolls back); subscriptions are long-lived and only their start is timed. A
        persisted query's text is looked up first."""
        import asyncio

        from strawberry.types import ExecutionResult

        data = self._persisted_document(
            kwargs["request"], kwargs["context"], kwargs["request_data"]
        )
        if isinstance(data, ExecutionResult):
            return data
        kwargs["request_data"] = data
        limit = self.settings.execution_timeout_seconds
        try:
            async with asyncio.timeout(limit):
                return await super().execute_operation(*args, **kwargs)
        except TimeoutError:
            return ExecutionResult(data=None, errors=[timeout_error(limit)])

    async def get_context(self, request: Any, response: Any) -> Context:
        websocket = request.scope["type"] == "websocket"
        if websocket:
            # a long-lived connection: the principal comes with connection_init, and
            # subscriptions read through short sessions of their own
            session, principal = self.sessions(), ANONYMOUS
        else:
            session, principal = request.scope["state"][_STATE_KEY]
            response.media_type = request.scope["state"].get(_MEDIA_KEY)
        context = Context(
            session=session,
            principal=principal,
            settings=self.settings,
            store=self.store,
            signer=self.signer.at(base_url(request.scope)),  # absolute URLs
            jobs=self.jobs,
            events=self.events,
            sessions=self.sessions,
            client=client_address(request.scope),
            user_agent=request.headers.get("user-agent"),
            languages=accepted_languages(request.headers.get("accept-language")),
            response=None if websocket else response,
            limiter=self.guard.limiter,
            raw_json=self.settings.compiled_reads and not websocket,
            fast_key=None if websocket else request.scope.get("state", {}).get(FAST_KEY),
            fast_plans=self.fast_plans,
            prepaid=None if websocket else request.scope.get("state", {}).get(PREPAID_KEY),
            trusted=self.persisted.allows if self.persisted.only_trusted else None,
        )
        if not websocket:
            request.scope["state"][_CONTEXT_KEY] = context
        return context

    def encode_json(self, data: object) -> str:
        from schema.compiled import encode_response

        return encode_response(data)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket in connection_init: {"Authorization": "Bearer <token>"}."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        if not header:
            return UNSET
        async with self.sessions() as session:
            try:
                context.set_principal(await self.guard.principal(session, str(header)))
            except AuthError as error:
                raise ConnectionRejectionError({"message": str(error)}) from None
        return UNSET


def build_jobs(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    store: ObjectStore,
    events: EventBus,
) -> JobQueue:
    """arq when Redis is configured; else the same job functions, run in this process."""
    if settings.redis_url:
        return ArqJobs(settings.redis_url, prefix=settings.redis_prefix)
    # the composition root may import the worker side
    from workers.context import worker_context
    from workers.jobs import JOBS

    # the jobs write: on SQLite each unit of work takes the write lock at BEGIN
    ctx = worker_context(settings, writer_sessions(sessions), store, events)
    return InProcessJobs(JOBS, ctx=ctx, concurrency=settings.inprocess_jobs)


def create_app(
    settings: Settings | None = None,
    *,
    sessions: async_sessionmaker[AsyncSession] | None = None,
    jobs: JobQueue | None = None,
    events: EventBus | None = None,
) -> Starlette:
    settings = settings or get_settings()
    store = store_from_settings(settings)
    signer = UrlSigner.from_file(Path(settings.object_dir) / ".satreps" / "url-key")
    owned_engine = None
    if sessions is None:
        owned_engine = engine_from_settings(settings)
        sessions = session_factory(owned_engine)
    events = events or bus_from_url(settings.redis_url, settings.redis_prefix)
    owns_jobs = jobs is None
    jobs = jobs or build_jobs(settings, sessions, store, events)

    from starlette.middleware import Middleware

    from server.http.archives import archive_endpoint
    from server.http.dashboard import dashboard_routes
    from server.http.exports import export_endpoint
    from server.http.forwarded import ForwardedHeaders
    from server.http.landing import landing_routes
    from server.http.middleware import RequestMiddleware
    from server.http.oai import oai_route
    from server.http.probes import Probes

    probes = Probes(settings, sessions, store)
    upload_lookup = UploadLookup(sessions)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await store.ensure_buckets()
        background: list[asyncio.Task[None]] = []
        if owns_jobs and isinstance(jobs, InProcessJobs):
            from workers.context import worker_context
            from workers.fixity import fixity_forever
            from workers.pipeline import reconcile_forever

            stale = dt.timedelta(seconds=settings.upload_stale_queued_seconds)
            background.append(
                asyncio.create_task(
                    reconcile_forever(
                        sessions,
                        jobs,
                        stale_queued=stale,
                        max_bytes=settings.upload_batch_max_bytes,
                        per_batch=settings.upload_batch_files,
                    )
                )
            )
            if settings.fixity_every_days > 0:
                ctx = worker_context(settings, sessions, store, events)
                background.append(asyncio.create_task(fixity_forever(ctx)))
            from workers.notifications import notify_forever
            from workers.publishing import pids_forever

            # the outbox's dispatcher (the arq workers' notification crons when not embedded)
            # and the persistent identifiers' (local ones written, DOIs pushed to DataCite);
            # plain sessions: their idle polls are reads, their writes begin_write themselves
            notify_ctx = worker_context(settings, sessions, store, events)
            background.append(asyncio.create_task(notify_forever(notify_ctx)))
            background.append(asyncio.create_task(pids_forever(notify_ctx)))
        if settings.gc_tuning:
            settle_heap()
        yield
        for task in background:
            task.cancel()
        await jobs.close()
        await events.close()
        await probes.close()
        store.close()
        upload_lookup.close()
        await graphql.aclose()
        if owned_engine is not None:
            await owned_engine.dispose()

    graphql = GraphQLEndpoint(settings, sessions, store, signer, jobs, events)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", probes.healthz),
            Route(
                "/uploads/{upload_id:int}",
                upload_endpoint(upload_lookup, store, signer),
                methods=["PUT"],
            ),
            Route("/exports/{key:path}", export_endpoint(store, signer), methods=["GET", "HEAD"]),
            Route(
                "/archives/{key:path}",
                archive_endpoint(sessions, store, signer, graphql.guard),
                methods=["GET", "HEAD"],
            ),
            oai_route(settings, sessions, signer),
            Route("/readyz", probes.readyz),
            Route("/metrics", probes.metrics),
            *dashboard_routes(),
            *landing_routes(settings, sessions, store, signer),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                ForwardedHeaders,
                trusted_proxies=settings.trusted_proxies,
                public_base_url=settings.public_base_url,
            ),
            Middleware(
                RequestMiddleware,
                max_body_bytes=settings.max_body_bytes,
                fast=graphql.fast.front if settings.compiled_reads else None,
            ),
        ],
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.store = store
    app.state.jobs = jobs
    app.state.events = events
    return app
