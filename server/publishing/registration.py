"""Registering DOIs with DataCite: the registration job's round. It claims the identifiers
marked to push whose time has come (SKIP LOCKED on PostgreSQL, so workers share them), writes
each one's metadata from its public record, and calls the DataCite REST API: `POST /dois` the
first time, `PUT /dois/{doi}` after, with `event: publish` (findable) or, for a withdrawn
record, `event: hide` (registered). The database stays the truth: a push changes a row only
after DataCite answered.

Outcomes: DataCite unreachable, timing out or answering 5xx or 429 is retried with
exponential backoff (`reason` keeps the last error, the state is unchanged); any other 4xx
fails the identifier with DataCite's error text (the next change of the record pushes
again). A `POST` answered 422 "already been taken" is taken to be our own earlier push whose
answer was lost (the suffix is ours under our prefix) and is sent again as a `PUT`; if
DataCite refuses that too, the identifier fails with both answers."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import begin_write, utcnow
from server.models import PersistentId
from server.publishing.datacite import Document
from server.publishing.metadata import documents_of
from server.publishing.pids import DOI, DRAFT, FAILED, FINDABLE, REGISTERED

log = logging.getLogger(__name__)
BATCH = 20
CLAIM = dt.timedelta(minutes=5)
BACKOFF = dt.timedelta(seconds=30)
BACKOFF_MAX = dt.timedelta(hours=6)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
REASON_MAX = 2000
JSON_API = "application/vnd.api+json"


@dataclass(frozen=True)
class Claim:
    id: int
    revision: int
    dataset_id: int
    version_id: int | None
    doi: str
    remote: bool


@dataclass(frozen=True)
class Outcome:
    """What a push ended in: a state (None: retry later), whether DataCite now has the DOI,
    and the reason to keep."""

    state: str | None
    remote: bool
    reason: str | None


class Transient(Exception):
    """DataCite could not answer now: retry later."""


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failure in a row: 30 s, doubling, at most 6 h."""
    return min(BACKOFF * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


async def push_due(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """One round: push the identifiers that are due; the number pushed (whatever the
    outcome)."""
    if not settings.datacite_enabled:
        return 0
    now = now or utcnow()
    claims = await claim(sessions, now)
    if not claims:
        return 0
    async with sessions() as session:
        documents = await documents_of(session, settings, claims)
    async with client(settings, transport) as http:
        for item in claims:
            outcome = await push_one(http, item, documents.get(item.id))
            await finish(sessions, item, outcome, now)
    return len(claims)


def client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.datacite_url.rstrip("/"),
        auth=(settings.datacite_username or "", settings.datacite_password.get_secret_value()),
        headers={"Content-Type": JSON_API, "Accept": JSON_API},
        timeout=TIMEOUT,
        transport=transport,
    )


async def claim(sessions: async_sessionmaker[AsyncSession], now: dt.datetime) -> list[Claim]:
    async with sessions() as session:
        await begin_write(session)
        rows = list(
            await session.scalars(
                select(PersistentId)
                .where(
                    PersistentId.scheme == DOI,
                    PersistentId.needs_push,
                    or_(
                        PersistentId.next_attempt_at.is_(None), PersistentId.next_attempt_at <= now
                    ),
                    or_(PersistentId.claimed_until.is_(None), PersistentId.claimed_until < now),
                )
                .order_by(PersistentId.next_attempt_at, PersistentId.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.claimed_until = now + CLAIM
        claims = [
            Claim(r.id, r.revision, r.dataset_id, r.version_id, r.value, r.remote) for r in rows
        ]
        await session.commit()
    return claims


# ---- the calls ---------------------------------------------------------------------------


async def push_one(http: httpx.AsyncClient, item: Claim, document: Document | None) -> Outcome:
    warnings = "; ".join(document.warnings) if document and document.warnings else None
    try:
        if document is None:
            if not item.remote:  # withdrawn before DataCite ever had it: nothing to hide
                return Outcome(DRAFT, False, "withdrawn before registration")
            await _send(http, "PUT", item.doi, {"event": "hide"})
            return Outcome(REGISTERED, True, None)
        attributes = {**document.attributes, "event": "publish"}
        if item.remote:
            await _send(http, "PUT", item.doi, attributes)
            return Outcome(FINDABLE, True, warnings)
        created = await _send(http, "POST", item.doi, attributes)
        if created is None:  # 422: the DOI is taken (by our own lost push, we take it)
            taken = "DataCite: this DOI has already been taken"
            try:
                await _send(http, "PUT", item.doi, attributes)
            except Refused as refused:
                return Outcome(FAILED, False, f"{taken}; updating it: {refused}")
            return Outcome(FINDABLE, True, "; ".join(filter(None, [taken, warnings])))
        return Outcome(FINDABLE, True, warnings)
    except Transient as error:
        return Outcome(None, item.remote, str(error))
    except Refused as error:
        return Outcome(FAILED, item.remote, str(error))


class Refused(Exception):
    """DataCite refused the request (a 4xx other than 429): retrying will not help."""


async def _send(
    http: httpx.AsyncClient, method: str, doi: str, attributes: dict[str, Any]
) -> dict[str, Any] | None:
    """DataCite's answer; None for a POST answered "already been taken"."""
    url = "/dois" if method == "POST" else f"/dois/{doi}"
    body = {"data": {"type": "dois", "attributes": attributes}}
    try:
        response = await http.request(method, url, json=body)
    except httpx.TimeoutException as error:
        raise Transient(f"DataCite timed out: {type(error).__name__}") from error
    except httpx.TransportError as error:
        raise Transient(f"DataCite unreachable: {error or type(error).__name__}") from error
    if response.status_code >= 500 or response.status_code == 429:
        raise Transient(f"DataCite answered {response.status_code}: {_errors(response)}")
    if response.status_code >= 400:
        text = _errors(response)
        if method == "POST" and response.status_code == 422 and "already been taken" in text:
            return None
        raise Refused(f"DataCite refused ({response.status_code}): {text}")
    answer: dict[str, Any] = response.json() if response.content else {}
    return answer


def _errors(response: httpx.Response) -> str:
    """DataCite's error titles (JSON:API `errors`), else the body's start."""
    try:
        errors = response.json().get("errors") or []
        titles = [
            f"{e.get('source')}: {e.get('title')}" if e.get("source") else str(e.get("title"))
            for e in errors
            if isinstance(e, dict)
        ]
    except (ValueError, AttributeError):
        titles = []
    text = "; ".join(titles) or response.text.strip() or response.reason_phrase
    return text[:REASON_MAX]


async def finish(
    sessions: async_sessionmaker[AsyncSession], item: Claim, outcome: Outcome, now: dt.datetime
) -> None:
    """Record the outcome; the mark to push is cleared only if no change came meanwhile."""
    async with sessions() as session:
        await begin_write(session)
        row = await session.get(PersistentId, item.id)
        if row is None:  # the dataset was deleted meanwhile
            return
        row.claimed_until = None
        row.remote = outcome.remote
        row.reason = outcome.reason[:REASON_MAX] if outcome.reason else None
        row.updated_at = utcnow()
        if outcome.state is None:
            row.attempts += 1
            row.next_attempt_at = now + backoff(row.attempts)
            log.warning("DOI %s: %s (attempt %s)", item.doi, outcome.reason, row.attempts)
        else:
            row.state = outcome.state
            row.attempts = row.attempts + 1 if outcome.state == FAILED else 0
            row.next_attempt_at = None
            if row.revision == item.revision:
                row.needs_push = False
        await session.commit()
