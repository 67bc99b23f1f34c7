"""The compiled fast path at the HTTP layer (schema/compiled/fast.py keeps the plans).

`FastPath.answer` is the one fast path: the request's key, its plan, the rate-limit charge,
the statements (server/core/fast_reads.py), the body. Two places call it:

- `FastPath.front`, from the request middleware's one pass (issue 26): a POST of JSON to
  /graphql, anonymous or with a bearer token seen before, is answered right after its body
  is read: no routing, no Starlette Request or Response, the head assembled from bytes;
- the GraphQL endpoint, for what reaches it (a GET, a token checked in a session).

Whatever the fast path cannot answer (a document not seen before, a refused charge, a
database error, a token that is no longer what it was) goes on to the endpoint and strawberry,
which answer as they always do; the request's state says what was tried and charged, so
nothing is tried or charged twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, NamedTuple

from schema.compiled import fast
from schema.compiled.fast import FastPlan, FastPlans
from schema.protection import budget_of, rate_limit_headers
from server.access.auth import ANONYMOUS, Principal
from server.core.fast_reads import FastReads, Row, Statements, on_connection
from server.core.languages import accepted_languages
from server.core.metrics import ROOT_FIELDS
from server.http.media import negotiate

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from starlette.types import Scope, Send

    from server.access.ratelimit import Charge
    from server.core.config import Settings
    from server.http.guard import Guard
    from server.http.middleware import GraphQLBody
    from server.http.persisted import PersistedDocuments

FAST_KEY = "satreps.fast_key"  # the request's key in the compiled fast path
PREPAID_KEY = "satreps.prepaid"  # a charge the fast path took before handing on
FRONT_TRIED = "satreps.fast_front"  # the middleware's pass tried the fast path already
_READ = (b"authorization", b"accept", b"accept-language")  # the headers the front reads
_HEAD = {
    media: [(b"content-type", media.encode())]
    for media in ("application/json", "application/graphql-response+json")
}


class Answer(NamedTuple):
    body: bytes  # the response body
    headers: dict[str, str]  # the rate-limit headers
    failed: bool  # with top-level errors (a timeout): counted as a failed GraphQL request


FAST_FIELDS = ROOT_FIELDS.labels("fast")  # labels() looks up and locks on every call
REFUSED = object()  # the fast path's charge: refused in this window already
REFUSALS_KEPT = 10_000  # budgets remembered as refused, past windows dropped beyond it
NOT_ANSWERED = (0, False)  # the front's (status, failed) when it hands the request on


def timeout_error(limit: float) -> Any:
    from graphql import GraphQLError

    message = f"the operation took longer than {limit:g} s and was stopped"
    return GraphQLError(message, extensions={"code": "TIMEOUT"})


def client_address(scope: Scope) -> str | None:
    """The caller's address (anonymous callers' rate limits are kept by it)."""
    client = scope.get("client")
    return client[0] if client else None


class FastPath:
    def __init__(
        self,
        settings: Settings,
        reads: FastReads,
        guard: Guard,
        persisted: PersistedDocuments,
        plans: FastPlans | None = None,
    ) -> None:
        self.settings = settings
        self.reads = reads
        self.guard = guard
        self.persisted = persisted
        self.plans = plans or FastPlans()
        self._refused: dict[str, float] = {}  # budget key -> when its refused window ends

    async def answer(
        self,
        scope: Scope,
        parsed: GraphQLBody,
        principal: Principal,
        language: str | None,
        *,
        session: AsyncSession | None = None,
        token_hash: str | None = None,
    ) -> Answer | None:
        """The answer (body, rate-limit headers, whether it failed) of a document seen
        before with every root field compiled, or None: hand it on. With `token_hash` (the
        principal is the token's hint, not yet checked) only the fused statement may
        answer, and only if it finds the token still that principal. With a session (a
        token looked up in it) the statements run on its connection; without, on the fast
        path's own reads."""
        state = scope.setdefault("state", {})
        key = fast.fast_key(parsed, principal, accepted_languages(language))
        if token_hash is None:
            state[FAST_KEY] = key
        plan = self.plans.lookup(key) if key is not None else None
        if plan is None or (token_hash is not None and plan.fused is None):
            return None
        charge, charging = self._charge(scope, principal, plan.points)
        if charge is REFUSED:
            return None  # strawberry charges and refuses it as ever
        if charging is not None and not isinstance(charging, asyncio.Task):
            charge, charging = await charging, None  # in the process: nothing to wait for
            if not charge.allowed:
                return None
        try:
            ran = await self._run(plan, principal, session, token_hash)
        finally:
            if charging is not None:  # sent to Redis beside the statements
                charge = await charging
        if ran is None or (charge is not None and not charge.allowed):
            return None  # a refused charge took nothing; strawberry refuses it as ever
        body, failed = ran
        FAST_FIELDS.inc(len(plan.fields))
        self._register(parsed.payload)
        return Answer(body, rate_limit_headers(charge) if charge is not None else {}, failed)

    async def _run(
        self,
        plan: FastPlan,
        principal: Principal,
        session: AsyncSession | None,
        token_hash: str | None,
    ) -> tuple[bytes, bool] | None:
        """The plan's statements: (the body, whether it has top-level errors), or None
        (hand it on)."""
        limit = self.settings.execution_timeout_seconds
        body: bytes | None
        try:
            if session is not None:
                async with asyncio.timeout(limit):
                    body = await fast.answer(plan, on_connection(await session.connection()))
            else:

                def rows(statements: Statements) -> Awaitable[list[Row]]:
                    return self.reads.rows(statements, limit)

                if token_hash is None:
                    body = await fast.answer(plan, rows)
                else:
                    body = await fast.answer_fused(plan, rows, token_hash, principal)
        except TimeoutError:  # as execute_operation answers it
            if token_hash is not None:
                return None  # not answered before the token is checked
            timed_out = {"data": None, "errors": [timeout_error(limit).formatted]}
            return json.dumps(timed_out).encode(), True
        except Exception:  # noqa: BLE001 (strawberry answers, masking as it does)
            if session is not None:
                await session.rollback()
            return None
        if body is None:  # the token is no longer what it was: authenticate it as ever
            assert token_hash is not None
            self.guard.forget(token_hash)
            return None
        return body, False

    async def front(
        self, scope: Scope, parsed: GraphQLBody, send: Send, request_id: bytes
    ) -> tuple[int, bool]:
        """The middleware's pass over a JSON POST to /graphql: (the status it answered
        with, whether the answer has top-level errors), or NOT_ANSWERED (the request goes
        on, its body replayed). The first of a repeated header counts, as in Starlette's."""
        wanted = dict.fromkeys(_READ)
        for name, value in scope["headers"]:
            if name in wanted and wanted[name] is None:
                wanted[name] = value.decode("latin-1")
        authorization, accept, language = wanted.values()
        token_hash = None
        principal = ANONYMOUS
        if authorization:
            hinted = self.guard.hinted(authorization)
            if hinted is None:
                return NOT_ANSWERED  # looked up in a session by the endpoint
            token_hash, principal = hinted
        scope.setdefault("state", {})[FRONT_TRIED] = True
        answered = await self.answer(scope, parsed, principal, language, token_hash=token_hash)
        if answered is None:
            return NOT_ANSWERED
        body, limits, failed = answered
        headers = [
            *_HEAD[negotiate(accept)],
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in limits.items()),
            (b"x-request-id", request_id),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return 200, failed

    def _register(self, payload: Any) -> None:
        """A registering APQ request answered by the fast path: its text is valid."""
        from server.http.persisted import Resolved

        if isinstance(payload, dict) and isinstance(payload.get("extensions"), dict):
            resolved = self.persisted.resolve(payload)
            if isinstance(resolved, Resolved) and resolved.register is not None:
                self.persisted.register(resolved, payload["query"])

    def _charge(
        self, scope: Scope, principal: Principal, points: int
    ) -> tuple[Any, Awaitable[Charge] | None]:
        """The fast path's charge of the rate-limit budget: (the charge, None) when it is
        known already (None: not limited; REFUSED: refused in this window already), else
        (None, what charges it). A charge that waits for Redis is a Task, sent beside the
        statements (at concurrency 1 its round trip was a third of a request); a refusal
        then discards their rows, and the budget's key is remembered as refused until the
        window ends, so that its next requests run no statement before they are refused.
        The charge is kept in the request's state: if the request is handed on (to the
        fused path's fallback, or to strawberry), the same points for the same account are
        not charged twice."""
        state = scope.setdefault("state", {})
        prepaid = state.get(PREPAID_KEY)
        if prepaid is not None and prepaid[:2] == (principal.account_id, points):
            return prepaid[2], None
        limiter = self.guard.limiter
        budget = budget_of(limiter, principal, self.settings, client_address(scope))
        if budget is None:
            return None, None
        refused_until = self._refused.get(budget[0])
        if refused_until is not None:
            if refused_until > time.time():
                return REFUSED, None
            del self._refused[budget[0]]
        charging = self._prepay(state, principal, budget, points)
        if not limiter.remote:
            return None, charging
        # started at once: the command is on its way to Redis before the statements are
        loop = asyncio.get_running_loop()
        return None, asyncio.Task(charging, loop=loop, eager_start=True)

    async def _prepay(
        self, state: dict[str, Any], principal: Principal, budget: tuple[str, int], points: int
    ) -> Charge:
        charge: Charge = await self.guard.limiter.charge(budget[0], points, budget[1])
        if charge.allowed:
            state[PREPAID_KEY] = (principal.account_id, points, charge)
        else:
            if len(self._refused) >= REFUSALS_KEPT:
                now = time.time()
                self._refused = {k: t for k, t in self._refused.items() if t > now}
            self._refused[budget[0]] = charge.reset_at.timestamp()
        return charge

    async def close(self) -> None:
        await self.reads.close()
