"""HTTP caching of GraphQL queries sent over GET.

An anonymous query's answer without errors is public: `Cache-Control: public,
max-age=<SATREPS_GET_CACHE_MAX_AGE>` and a strong `ETag` (a hash of the body); a request
whose `If-None-Match` names it gets `304 Not Modified` without the body (the query still
runs and is charged: the ETag is of what it answers now). With a token the answer is
`private, no-store`; an answer with errors (and any refusal) is `no-store`. `Vary: Accept,
Accept-Language, Authorization`: the media type, the caller's languages (the fallback chain
of language-tagged texts) and the caller change the answer.
"""

from __future__ import annotations

import hashlib
import json

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Send

VARY = "Accept, Accept-Language, Authorization"
NO_STORE = "no-store"


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, W/ or not, or *."""
    if not if_none_match:
        return False
    tags = [tag.strip() for tag in if_none_match.split(",")]
    return "*" in tags or any(tag.removeprefix("W/") == etag for tag in tags)


def _has_errors(body: bytes) -> bool:
    if b'"errors"' not in body:
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return True
    return not isinstance(payload, dict) or "errors" in payload or "data" not in payload


def cached_get(send: Send, *, anonymous: bool, max_age: int, if_none_match: str | None) -> Send:
    """A send that holds a GET query's answer to give it its caching headers (and turn it
    into a 304 when the client has it already)."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def sender(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        status = start["status"]
        headers = MutableHeaders(raw=list(start.get("headers", [])))
        headers["Vary"] = VARY
        if status != 200 or _has_errors(body):
            headers["Cache-Control"] = NO_STORE
        elif not anonymous:
            headers["Cache-Control"] = "private, no-store"
        else:
            etag = etag_of(body)
            headers["ETag"] = etag
            headers["Cache-Control"] = f"public, max-age={max_age}"
            if matches(if_none_match, etag):
                status, body = 304, b""
                del headers["content-type"]
                del headers["content-length"]
        if status != 304:
            headers["Content-Length"] = str(len(body))
        await send({**start, "status": status, "headers": headers.raw})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return sender
