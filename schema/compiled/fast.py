"""The fast path of documents answered entirely by compiled statements.

When a query ran through strawberry with every root field compiled and no error, its
statements are kept under (the sha256 of the query text, operation name, variables,
principal shape): a persisted query's hash (server/http/persisted.py) is that key as sent,
so a request naming its document by hash is answered without the text being looked up,
hashed or parsed. The
same request again is answered from them: the token is checked, the rate-limit budget
charged (the same points), the statements run, the JSON texts joined; strawberry's parse,
validation, limits and execution are skipped, as their verdict for this exact document,
these variables and this principal shape cannot change. Whatever else happens (a refused
charge, a database error) goes back through strawberry, which answers as it always does.

A plan kept for an API token's principal also has a fused form: the token lookup of
`server.access.auth` with every field added to it as a column, one statement and one round trip
for the whole request. The app sends it when it last saw the token as this principal
(`Guard.hinted`); the token's row read in that same statement must still give exactly that
principal (not revoked, not expired, same account, role, links and scopes, last-used time
not due), or the answer is dropped and the request authenticated as ever: a hint never
lets a revoked token or a changed account read anything.

On PostgreSQL each field comes back as the UTF-8 bytes of its JSON text (`convert_to`,
bytea), joined into the body as bytes: a text with any character beyond ASCII was decoded
from the driver and encoded again for the socket, the same bytes as they were read
(bench/http_floor.py's nested read, 224 KB: 667-701 µs of the process's CPU a request as
text, 492-608 µs as bytes). SQLite's driver gives text, encoded once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from sqlalchemy import LargeBinary, func, literal_column, select

from schema.compiled.compiler import principal_key, today

log = logging.getLogger(__name__)
FAST_CACHE_SIZE = 256


class FastKey(NamedTuple):
    """A request's document, variables and principal shape, and the date the rules read."""

    digest: bytes
    operation: str | None
    variables: str
    principal: tuple[Any, ...]
    authenticated: bool  # only an API token's plans are fused with its lookup
    today: Any
    languages: tuple[str, ...] = ()  # the caller's Accept-Language (texts' fallback chain)


@dataclass(frozen=True)
class Fused:
    """The token lookup and every field in one statement, for the driver."""

    sql: str
    params: tuple[Any, ...]
    token_at: int  # where in the parameters the token's hash goes
    # the token columns' result conversions (the driver's raw values: text dates on SQLite)
    convert: tuple[Any, ...]


@dataclass(frozen=True)
class FastPlan:
    # (response name, SQL, its parameters), in response order: compiled once for the
    # dialect and sent to the driver as they are
    fields: tuple[tuple[str, str, Any], ...]
    points: int  # what the request takes from the rate-limit budget
    # the token lookup and every field in one statement: SQL, parameters, and where in them
    # the token's hash goes (authenticated principals' plans only)
    fused: Fused | None = None

    @cached_property
    def statements(self) -> tuple[tuple[str, Any], ...]:
        """Each field's (SQL, parameters), in response order."""
        return tuple((sql, params) for _, sql, params in self.fields)

    @cached_property
    def heads(self) -> tuple[bytes, ...]:
        """Each field's `"name":` in the response body."""
        return tuple(f"{json.dumps(name)}:".encode() for name, _, _ in self.fields)


def driver_sql(stmt: Any, dialect: Any) -> tuple[str, Any]:
    """The statement as the driver takes it: SQL text and its parameters (positional for
    asyncpg and sqlite), IN lists expanded."""
    return _for_driver(stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}))


def _for_driver(compiled: Any) -> tuple[str, Any]:
    processors = compiled._bind_processors  # the types' conversions, as an execution applies
    params = {
        name: processors[name](value) if name in processors else value
        for name, value in compiled.construct_params().items()
    }
    if compiled.positional:
        return compiled.string, tuple(params[name] for name in compiled.positiontup or ())
    return compiled.string, params


def as_bytes(stmt: Any, dialect: Any) -> Any:
    """A field's statement (one row, its JSON text) as a column giving the text's UTF-8
    bytes on PostgreSQL (what the body is made of), or the text itself elsewhere."""
    value = stmt.scalar_subquery()
    if dialect.name != "postgresql":
        return value
    return func.convert_to(value, literal_column("'UTF8'"), type_=LargeBinary)


def fused_sql(fields: list[tuple[str, Any]], dialect: Any) -> Fused:
    """The token lookup with each field's statement as a column of it, for the driver."""
    from server.access.auth import TOKEN_LOOKUP, TOKEN_WIDTH

    stmt = TOKEN_LOOKUP.add_columns(*(as_bytes(field, dialect) for _, field in fields))
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    sql, params = _for_driver(compiled)
    if not compiled.positional:
        raise NotImplementedError("named parameters")  # asyncpg and sqlite are positional
    convert = tuple(
        column.type._cached_result_processor(dialect, None)
        for column in list(TOKEN_LOOKUP.selected_columns)[:TOKEN_WIDTH]
    )
    return Fused(sql, params, (compiled.positiontup or []).index("token_hash"), convert)


_NOT_FAST = ()  # a body's parts when it cannot take the fast path


def request_parts(payload: Any) -> tuple[bytes, str | None, str] | tuple[()]:
    """(document digest, operation name, variables as canonical JSON) of a JSON request
    body (or GET parameters), or () when it cannot take the fast path. The digest is the
    sha256 of the document's text; a persisted query's `sha256Hash` is taken as it is,
    without the text (a hash sent with a text it is not the hash of is not fast)."""
    if not isinstance(payload, dict):
        return _NOT_FAST
    if set(payload) - {"query", "variables", "operationName", "extensions"}:
        return _NOT_FAST
    query = payload.get("query")
    digest = _persisted_digest(payload.get("extensions"))
    if digest is None or (query is None and not digest):
        return _NOT_FAST
    if query is not None:
        if not isinstance(query, str):
            return _NOT_FAST
        text_digest = hashlib.sha256(query.encode()).digest()
        if digest and digest != text_digest:
            return _NOT_FAST
        digest = text_digest
    operation = payload.get("operationName")
    if operation is not None and not isinstance(operation, str):
        return _NOT_FAST
    try:
        variables = json.dumps(payload.get("variables") or {}, sort_keys=True)
    except (TypeError, ValueError):
        return _NOT_FAST
    return digest, operation, variables


def _persisted_digest(extensions: Any) -> bytes | None:
    """A persisted query's hash (APQ version 1) as bytes; b"" without extensions; None
    for any other extension (not fast)."""
    if not extensions:
        return b""
    if not isinstance(extensions, dict) or set(extensions) != {"persistedQuery"}:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        return None
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    try:
        return bytes.fromhex(digest)
    except ValueError:
        return None


def fast_key(body: Any, principal: Any, languages: tuple[str, ...] = ()) -> FastKey | None:
    """The key of a request (`body`: the middleware's GraphQLBody, whose parts are worked
    out once for all the requests of its bytes), or None when it cannot take the fast path."""
    if body.fast is None:
        body.fast = request_parts(body.payload)
    if not body.fast:
        return None
    if principal.is_authenticated and not principal.has_scope("read"):
        return None
    digest, operation, variables = body.fast
    return FastKey(
        digest,
        operation,
        variables,
        principal_key(principal),
        principal.is_authenticated,
        today(),
        languages,
    )


class FastPlans:
    """The plans of one app (its settings' limits were applied to each), least recently
    used first out."""

    def __init__(self, size: int = FAST_CACHE_SIZE) -> None:
        self.size = size
        self._plans: OrderedDict[Any, FastPlan] = OrderedDict()

    def lookup(self, key: Any) -> FastPlan | None:
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def record(
        self, key: FastKey, fields: list[tuple[str, Any]], points: int, dialect: Any
    ) -> None:
        """Keep a plan (the response it came from is answered already: a statement that
        cannot be kept, e.g. two CTEs of one name once fused, is only logged)."""
        try:
            compiled = tuple(
                (name, *driver_sql(select(as_bytes(stmt, dialect)), dialect))
                for name, stmt in fields
            )
        except Exception:
            log.warning("a fast plan could not be kept", exc_info=True)
            return
        fused = None
        if key.authenticated:
            try:
                fused = fused_sql(fields, dialect)
            except Exception:
                log.warning("a fused fast plan could not be kept", exc_info=True)
        self._plans[key] = FastPlan(compiled, points, fused)
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)


def _body(plan: FastPlan, texts: Any) -> bytes:
    """The response body from each field's JSON: bytes as read (PostgreSQL), text (SQLite)
    encoded, None as null."""
    parts = [
        head + (b"null" if text is None else text if type(text) is bytes else text.encode())
        for head, text in zip(plan.heads, texts, strict=True)
    ]
    return b'{"data":{' + b",".join(parts) + b"}}"


async def answer_fused(plan: FastPlan, rows: Any, token_hash: str, principal: Any) -> bytes | None:
    """The response body from the fused statement (`rows`: statements -> their first rows,
    server.core.fast_reads), or None unless the token's row read with it gives exactly
    `principal` now (the caller then authenticates as ever)."""
    from server.access.auth import TOKEN_WIDTH, AuthError, check_token

    fused = plan.fused
    assert fused is not None
    values = list(fused.params)
    values[fused.token_at] = token_hash
    (row,) = await rows(((fused.sql, values),))
    if row is None:
        return None
    token = [f(v) if f else v for f, v in zip(fused.convert, row[:TOKEN_WIDTH], strict=True)]
    try:
        check = check_token(token)
    except AuthError:
        return None
    if check.stale or check.principal != principal:
        return None
    return _body(plan, row[TOKEN_WIDTH:])


async def answer(plan: FastPlan, rows: Any) -> bytes:
    """The response body: each statement's JSON text under its response name (`rows`:
    statements -> their first rows, server.core.fast_reads)."""
    got = await rows(plan.statements)
    return _body(plan, [None if row is None else row[0] for row in got])
