"""The response's media type (GraphQL over HTTP): `application/graphql-response+json` when the
client accepts it, else `application/json` as ever; and what changes with the new one.

With `application/graphql-response+json` a request error (a document that does not parse or
validate, variables that cannot be coerced, a request refused before execution: cost, scope,
rate) has no `data` entry and a 4xx status (400; 403 for a missing scope; 429 for the rate
limit). With `application/json` such a response stays `200` with `data: null`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from graphql import GraphQLError, VariableDefinitionNode

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
_AS_JSON = ("application/json", "application/*", "*/*")


@functools.lru_cache(maxsize=256)  # clients send the same few Accept headers
def negotiate(accept: str | None) -> str:
    """The media type to answer with. No Accept header, `*/*`, `application/*` and anything
    we cannot serve answer `application/json` (the spec's default for legacy clients); the
    client's weights (q) decide between the two, ties by the order given."""
    best, best_q = JSON, -1.0
    for item in (accept or "").split(","):
        media, *params = (part.strip().lower() for part in item.split(";"))
        if media == GRAPHQL_RESPONSE:
            candidate = GRAPHQL_RESPONSE
        elif media in _AS_JSON:
            candidate = JSON
        else:
            continue
        q, charset = 1.0, "utf-8"
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                q = _weight(value.strip())
            elif key.strip() == "charset":
                charset = value.strip().strip('"')
        if q > best_q and q > 0 and charset in ("utf-8", "utf8"):
            best, best_q = candidate, q
    return best


def _weight(value: str) -> float:
    try:
        return min(max(float(value), 0.0), 1.0)
    except ValueError:
        return 0.0


def is_coercion_error(error: GraphQLError) -> bool:
    """An error of the variables' coercion (raised before any field ran)."""
    nodes = error.nodes or ()
    return (
        error.path is None
        and bool(nodes)
        and all(isinstance(node, VariableDefinitionNode) for node in nodes)
    )


def request_error_status(errors: Sequence[GraphQLError], executed: bool) -> int | None:
    """The status of a result without data that is a request error, None when it is not
    one (the operation ran: its `data: null` is an answer, 200). `executed`: the operation
    passed parse, validation and the checks before execution."""
    if not errors:
        return None
    if executed and not all(is_coercion_error(e) for e in errors):
        return None
    codes = {(e.extensions or {}).get("code") for e in errors}
    if "TIMEOUT" in codes:
        return None  # cut short while running: data null, as any execution
    if "RATE_LIMITED" in codes:
        return 429
    if "INSUFFICIENT_SCOPE" in codes:
        return 403
    return 400
