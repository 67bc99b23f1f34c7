"""When the researcher's clients (upload_client, folder_transfer) send a request again.

A network error or a 5xx is tried again, TRIES times in all, BACKOFF doubling. A 503 that
says the database refused the request for now wrote nothing, whatever the call:
DATABASE_BUSY (the embedded server's SQLite writers queued longer than one may wait) or
DATABASE_UNAVAILABLE (the database restarting). It is tried again, DATABASE_TRIES times in
all, after the answer's Retry-After when that is longer than the backoff, each pause at most
LONGEST_PAUSE seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from server.http.upload_client import Uploader

TRIES = 3
BACKOFF = 0.5  # seconds, doubled after each failed try
DATABASE_TRIES = 6
LONGEST_PAUSE = 30.0
# server.http.middleware.HttpCode's, not imported: the clients stay off the server's stack
DATABASE_CODES = frozenset({"DATABASE_BUSY", "DATABASE_UNAVAILABLE"})


def backoff(attempt: int) -> float:
    """The pause after failed try number `attempt` (1, 2, ...)."""
    return BACKOFF * 2 ** (attempt - 1)


def pause_before_retry(response: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait before sending again a request answered `response` at try number
    `attempt`; None when the answer is final (below 500, or the tries are spent)."""
    if response.status_code < 500:
        return None
    tries = DATABASE_TRIES if database_refused(response) else TRIES
    if attempt >= tries:
        return None
    return min(max(retry_after(response), backoff(attempt)), LONGEST_PAUSE)


def database_refused(response: httpx.Response) -> bool:
    """A 503 whose GraphQL errors (or the upload endpoint's `error`) carry a database code."""
    if response.status_code != 503:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    errors = body.get("errors") or [body.get("error") or {}]
    codes = {(e.get("extensions") or e).get("code") for e in errors if isinstance(e, dict)}
    return bool(codes & DATABASE_CODES)


def retry_after(response: httpx.Response) -> float:
    """The answer's Retry-After in seconds; 0 when absent or an HTTP date."""
    try:
        return max(float(response.headers.get("retry-after", "")), 0.0)
    except ValueError:
        return 0.0


# what put_with_retries says when the store refused a body against the sha256 signed into
# its URL (S3's BadDigest)
BAD_DIGEST = (
    "the store refused the bytes: they do not match the sha256 declared for them"
    " (did the file change after it was hashed?)"
)


def put_with_retries(
    up: Uploader,
    given: Callable[[], str],
    content: Callable[[list[int]], Iterator[bytes]],
    length: int,
    *,
    refresh: Callable[[], None],
    take_back: Callable[[int], None],
    log: Callable[[str], None],
) -> str | None:
    """PUT `length` bytes to the URL `given()` names (absolute, or the embedded server's
    path); None once the store took them, else what went wrong. An expired or refused URL
    (403) is renewed once (`refresh`); a network error or a 5xx is tried again, `TRIES` times
    in all, the backoff doubling; a 4xx is final. `content(sent)` streams the bytes, counting
    them in `sent` so that a failed try's progress is taken back."""
    refreshed, attempt = False, 0
    while True:
        attempt += 1
        url = httpx.URL(up.url).join(given())  # embedded mode may give /uploads/... paths
        sent = [0]
        try:
            response = up.http.put(
                url, content=content(sent), headers={"Content-Length": str(length)}
            )
        except httpx.TransportError as error:
            problem, status = f"{type(error).__name__}: {error}", None
        else:
            status = response.status_code
            text = response.text[:300].strip()
            problem = f"the store answered HTTP {status}" + (f": {text}" * bool(text))
            if status == 400 and "<Code>BadDigest</Code>" in text:
                return BAD_DIGEST  # the same bytes again would be refused again
        if status is not None and status < 300:
            return None
        take_back(sent[0])
        if status == 403 and not refreshed:
            refreshed = True
            refresh()
            continue
        if (status is None or status >= 500) and attempt < TRIES:
            log(problem)
            up.sleep(backoff(attempt))
            continue
        return problem
