"""The request middleware: request id (taken from or returned in X-Request-ID), the GraphQL
operation name, one JSON access-log line per request, latency and error metrics.

Pure ASGI, so a streaming response or a WebSocket passes through untouched. A GraphQL
POST body is read once here (up to the body limit) to find the operation name, then handed
on unchanged; what was parsed of it goes in the request's state (`GraphQLBody`, under
`BODY_STATE`) for the endpoint's compiled fast path; a GET's parameters are read into the
same shape. Clients send the same few documents over and over: the parse of a small body
(or query string) is kept by its bytes (`BODIES`), so a body seen before is neither parsed
nor searched for its operation name again.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.core.db import database_busy, database_unavailable
from server.core.logs import operation_var, request_id_from, request_id_var
from server.core.metrics import ERRORS, REQUEST_LATENCY, REQUESTS, WEBSOCKETS, operation_label
from server.http.media import GRAPHQL_RESPONSE, JSON, negotiate

access_log = logging.getLogger("satreps.access")
HEADER = b"x-request-id"
_NAMED_OPERATION = re.compile(
    r"(?:^|[\s}])(?:query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)"
)
_VALID_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
INSPECT_LIMIT = 1_048_576  # bytes of a GraphQL response looked at for top-level errors
BODY_STATE = "satreps.graphql_body"  # the request state's GraphQLBody
GRAPHQL_BYTES = GRAPHQL_RESPONSE.encode()
# how long a client waits before trying again while the database is down (a restart or a
# fail-over takes seconds; the pool reconnects by itself once it is back)
DATABASE_RETRY_AFTER = 5
# and while SQLite's writers queue longer than a writer may wait (its turn comes in seconds)
BUSY_RETRY_AFTER = 1


log = logging.getLogger(__name__)


class HttpCode(StrEnum):
    """Codes of the HTTP layer's own answers, whatever the route."""

    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    DATABASE_BUSY = "DATABASE_BUSY"


@dataclass(slots=True, eq=False)
class GraphQLBody:
    """A JSON request body as read here. `payload` is shared by every request of the same
    bytes: read it, never change it."""

    raw: bytes
    payload: Any  # the parsed JSON; None when the body is not JSON
    operation: str | None
    fast: Any = None  # what the compiled fast path derives from it, worked out once


class BodyCache:
    """The parses of small bodies by their bytes, least recently used first out."""

    def __init__(self, size: int = 512, largest: int = 8192) -> None:
        self.size = size
        self.largest = largest  # bytes: bigger bodies are parsed every time, never kept
        self._bodies: OrderedDict[bytes, GraphQLBody] = OrderedDict()

    def parse(self, raw: bytes) -> GraphQLBody:
        kept = self._bodies.get(raw)
        if kept is not None:
            self._bodies.move_to_end(raw)
            return kept
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        body = GraphQLBody(raw, payload, operation_name(payload))
        if len(raw) <= self.largest:
            self._bodies[raw] = body
            if len(self._bodies) > self.size:
                self._bodies.popitem(last=False)
        return body

    def parse_query(self, query_string: bytes) -> GraphQLBody:
        """A GET request's parameters (query, operationName, variables and extensions as
        JSON) as the body they stand for; kept by their bytes as bodies are."""
        key = b"GET?" + query_string
        kept = self._bodies.get(key)
        if kept is not None:
            self._bodies.move_to_end(key)
            return kept
        params = {
            k: v[0]
            for k, v in parse_qs(query_string.decode("latin-1"), keep_blank_values=True).items()
        }
        payload: dict[str, Any] | None = {
            k: v for k, v in params.items() if k in ("query", "operationName")
        }
        for name in ("variables", "extensions"):
            if name in params and payload is not None:
                try:
                    payload[name] = json.loads(params[name]) if params[name] else None
                except ValueError:
                    payload = None  # strawberry answers it
        body = GraphQLBody(key, payload, operation_name(payload))
        if len(key) <= self.largest:
            self._bodies[key] = body
            if len(self._bodies) > self.size:
                self._bodies.popitem(last=False)
        return body


BODIES = BodyCache()


def operation_name(payload: Any) -> str | None:
    """operationName, else the first named operation of the document, else None."""
    if not isinstance(payload, dict):
        return None
    name = payload.get("operationName")
    if isinstance(name, str) and _VALID_NAME.match(name):
        return name
    query = payload.get("query")
    if isinstance(query, str):
        without_comments = re.sub(r"#[^\n]*", "", query[:10_000])
        found = _NAMED_OPERATION.search(without_comments)
        if found:
            return found.group(1)
    return None


def route_of(path: str) -> str:
    """A bounded route label: the path for our fixed routes, a pattern for the rest."""
    if path in ("/graphql", "/healthz", "/readyz", "/metrics"):
        return path
    if path.startswith("/uploads/"):
        return "/uploads/{id}"
    if path.startswith("/exports/"):
        return "/exports/{key}"
    return "other"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


_GRAPHQL_HEADERS = (HEADER, b"content-type", b"content-length")


def _graphql_headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """The request id, Content-Type and Content-Length of a /graphql request, in one pass
    over its headers (the first of a repeated header counts, as in `_header`)."""
    found: dict[bytes, str] = {}
    for key, value in scope.get("headers", ()):
        if key in _GRAPHQL_HEADERS and key not in found:
            found[key] = bytes(value).decode("latin-1")
    return found.get(HEADER), found.get(b"content-type"), found.get(b"content-length")


# the compiled fast path's pass (server.http.fast_answer.FastPath.front): (scope, body, send,
# request id) -> (the status it answered with, or 0 to hand the request on; whether the
# answer has top-level errors)
Front = Callable[[Scope, GraphQLBody, Send, bytes], Awaitable[tuple[int, bool]]]


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, fast: Front | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.fast = fast
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        route = route_of(scope["path"])
        operation: str | None = None
        app = self.app
        if route == "/graphql":
            given_id, ctype, length = _graphql_headers(scope)
            request_id = request_id_from(given_id)
            operation, read = await self._graphql_operation(scope, receive, ctype, length)
            if read is None:  # a body without a Content-Length, over the limit
                app = too_large(self.max_body_bytes, negotiate(_header(scope, b"accept")))
            else:
                receive = read
                parsed = scope.get("state", {}).get(BODY_STATE)
                if self.fast is not None and parsed is not None and scope["method"] == "POST":
                    if await self._fast(scope, parsed, send, request_id, operation, started):
                        return
        else:
            request_id = request_id_from(_header(scope, HEADER))
        rid_token = request_id_var.set(request_id)
        op_token = operation_var.set(operation)
        status = 500
        inspected = bytearray()
        inspect = route == "/graphql"

        answering = False  # the response has begun: too late for the 503 below

        async def send_with_id(message: Message) -> None:
            nonlocal status, inspect, answering
            if message["type"] == "http.response.start":
                answering = True
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                headers.append((HEADER, request_id.encode()))
                message = {**message, "headers": headers}
                ctype = dict(headers).get(b"content-type", b"")
                inspect = inspect and ctype.startswith((b"application/json", GRAPHQL_BYTES))
            elif message["type"] == "http.response.body" and inspect:
                if len(inspected) + len(message.get("body", b"")) <= INSPECT_LIMIT:
                    inspected.extend(message.get("body", b""))
                else:
                    inspect = False
            await send(message)

        try:
            try:
                await app(scope, receive, send_with_id)
            except Exception as error:
                if not database_unavailable(error) or answering:
                    raise
                busy = database_busy(error)
                log.warning("database %s: %s", "busy" if busy else "unavailable", error)
                media = negotiate(_header(scope, b"accept"))
                refusal = database_down(route, media, busy=busy)
                await refusal(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            label = operation_label(operation) if route == "/graphql" else ""
            graphql_failed = inspect and _has_top_level_errors(bytes(inspected))
            self._record(scope, route, label, status, elapsed, graphql_failed)
            request_id_var.reset(rid_token)
            operation_var.reset(op_token)

    async def _fast(
        self,
        scope: Scope,
        parsed: GraphQLBody,
        send: Send,
        request_id: str,
        operation: str | None,
        started: float,
    ) -> bool:
        """The fast path's pass before routing: True when it answered (recorded and logged
        as every request is; a timeout's answer counted as a GraphQL error)."""
        assert self.fast is not None
        rid_token = request_id_var.set(request_id)
        op_token = operation_var.set(operation)
        try:
            status, failed = await self.fast(scope, parsed, send, request_id.encode())
            if status:
                elapsed = time.perf_counter() - started
                label = operation_label(operation)
                self._record(scope, "/graphql", label, status, elapsed, failed)
            return bool(status)
        finally:
            request_id_var.reset(rid_token)
            operation_var.reset(op_token)

    def _record(
        self, scope: Scope, route: str, label: str, status: int, elapsed: float, failed: bool
    ) -> None:
        method = scope["method"]
        key = (route, label, method, status)
        children = self._children.get(key)
        if children is None:  # prometheus_client's labels() checks and locks on every call
            latency = REQUEST_LATENCY.labels(route, label)
            children = latency, REQUESTS.labels(route, method, str(status))
            if len(self._children) < 4096:  # the labels are bounded (operation_label)
                self._children[key] = children
        children[0].observe(elapsed)
        children[1].inc()
        kind = "server" if status >= 500 else "client" if status >= 400 else None
        if kind is None and failed:
            kind = "graphql"
        if kind is not None:
            ERRORS.labels(route, label, kind).inc()
        if route in ("/healthz", "/readyz", "/metrics") and status < 400:
            return  # probes and scrapes every few seconds: not worth a line each
        if not access_log.isEnabledFor(logging.INFO):
            return
        access_log.info(
            "%s %s %d",
            scope["method"],
            scope["path"],
            status,
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "graphql_errors": failed or None,
                "client": (scope.get("client") or ("", 0))[0] or None,
            },
        )

    async def _graphql_operation(
        self, scope: Scope, receive: Receive, ctype: str | None, length: str | None
    ) -> tuple[str | None, Receive | None]:
        """Read a JSON body (within the limit) to name the operation; replay it after. A
        body sent without a Content-Length (chunked) is read up to the limit: over it, the
        receive is None and the request refused."""
        if scope["method"] == "GET":
            body = BODIES.parse_query(scope.get("query_string", b""))
            scope.setdefault("state", {})[BODY_STATE] = body
            return body.operation, receive
        if (
            scope["method"] != "POST"
            or not (ctype or "").startswith("application/json")
            or (length is not None and (not length.isdigit() or int(length) > self.max_body_bytes))
        ):
            return None, receive  # the endpoint answers it (or refuses it) as usual
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, _replay([message], receive)
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return None, None
            if not message.get("more_body", False):
                break
        body = BODIES.parse(b"".join(chunks))
        scope.setdefault("state", {})[BODY_STATE] = body
        message = {"type": "http.request", "body": body.raw, "more_body": False}
        return body.operation, _replay([message], receive)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = request_id_from(_header(scope, HEADER))
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "websocket.accept":
                headers = list(message.get("headers") or [])
                headers.append((HEADER, request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        WEBSOCKETS.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            WEBSOCKETS.dec()
            request_id_var.reset(token)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that gives `messages` first, then goes on with `receive`."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def graphql_error(
    status: int, code: str, message: str, *, media: str = JSON, **headers: str
) -> JSONResponse:
    """An HTTP-level refusal in GraphQL's error shape (the endpoint's and this module's);
    in application/graphql-response+json without the `data` entry."""
    body: dict[str, Any] = {"errors": [{"message": message, "extensions": {"code": code}}]}
    if media != GRAPHQL_RESPONSE:
        body = {"data": None, **body}
    return JSONResponse(body, status_code=status, headers=headers or None, media_type=media)


def database_down(route: str, media: str = JSON, *, busy: bool = False) -> JSONResponse:
    """503 while the database cannot be reached, or (`busy`) SQLite's write lock was waited
    out (nothing was written): in GraphQL's error shape on /graphql, in the upload
    endpoint's and downloads' `{"error": {code, message}}` elsewhere."""
    if busy:
        code, message = HttpCode.DATABASE_BUSY, "the database is busy: try again"
        retry = {"Retry-After": str(BUSY_RETRY_AFTER)}
    else:
        code, message = HttpCode.DATABASE_UNAVAILABLE, "the database is unavailable: try again"
        retry = {"Retry-After": str(DATABASE_RETRY_AFTER)}
    if route == "/graphql":
        return graphql_error(503, code, message, media=media, **retry)
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=503, headers=retry)


def too_large(limit: int, media: str = JSON) -> JSONResponse:
    """The refusal of a body over `limit` bytes."""
    return graphql_error(413, "REQUEST_TOO_LARGE", f"request body over {limit} bytes", media=media)


def _has_top_level_errors(body: bytes) -> bool:
    if b'"errors"' not in body:
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return False
    return isinstance(payload, dict) and bool(payload.get("errors"))
