"""The fast path of documents answered entirely by compiled statements.

When a query ran through strawberry with every root field compiled and no error, its
statements are kept under (query text, operation name, variables, principal shape). The
same request again is answered from them: the token is checked, the rate-limit budget
charged (the same points), the statements run, the JSON texts joined; strawberry's parse,
validation, limits and execution are skipped, as their verdict for this exact document,
these variables and this principal shape cannot change. Whatever else happens (a refused
charge, a database error) goes back through strawberry, which answers as it always does.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from schema.compiled.compiler import principal_key, today

FAST_CACHE_SIZE = 256


@dataclass(frozen=True)
class FastPlan:
    # (response name, SQL, its parameters), in response order: compiled once for the
    # dialect and sent to the driver as they are
    fields: tuple[tuple[str, str, Any], ...]
    points: int  # what the request takes from the rate-limit budget


def driver_sql(stmt: Any, dialect: Any) -> tuple[str, Any]:
    """The statement as the driver takes it: SQL text and its parameters (positional for
    asyncpg and sqlite), IN lists expanded."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors  # the types' conversions, as an execution applies
    params = {
        name: processors[name](value) if name in processors else value
        for name, value in compiled.construct_params().items()
    }
    if compiled.positional:
        return compiled.string, tuple(params[name] for name in compiled.positiontup or ())
    return compiled.string, params


def fast_key(payload: Any, principal: Any) -> Any:
    """The key of a JSON request body, or None when it cannot take the fast path."""
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    if set(payload) - {"query", "variables", "operationName", "extensions"}:
        return None
    if payload.get("extensions"):
        return None
    if principal.is_authenticated and not principal.has_scope("read"):
        return None
    try:
        variables = json.dumps(payload.get("variables") or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(payload["query"].encode()).digest()
    return (digest, payload.get("operationName"), variables, principal_key(principal), today())


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

    def record(self, key: Any, fields: list[tuple[str, Any]], points: int, dialect: Any) -> None:
        compiled = tuple((name, *driver_sql(stmt, dialect)) for name, stmt in fields)
        self._plans[key] = FastPlan(compiled, points)
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)


async def answer(plan: FastPlan, session: Any) -> str:
    """The response body: each statement's JSON text under its response name."""
    parts = []
    connection = await session.connection()
    for name, sql, params in plan.fields:
        text = (await connection.exec_driver_sql(sql, params)).scalar()
        parts.append(f"{json.dumps(name)}:{'null' if text is None else text}")
    return '{"data":{' + ",".join(parts) + "}}"
