"""What the GraphQL endpoint checks around each request: who is calling (API token or OIDC
JWT), the rate limiter it charges, and the embedded mode's signed download URLs."""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from server.access.auth import (
    ANONYMOUS,
    AuthError,
    Principal,
    authenticate,
    hash_token,
    take_written,
)
from server.access.oidc import OidcVerifier, looks_like_jwt
from server.access.ratelimit import RateLimiter, limiter_from_settings
from server.core.config import Settings
from server.core.db import utcnow
from server.core.errors import DomainError
from server.core.events import EventBus, MemoryBus
from server.core.url_signing import UrlSigner
from server.datasets.downloads import DownloadCode, refuse_failed_fixity
from server.http import ranges
from server.http.ranges import RangeRefused, Representation
from server.models import DatasetFile
from server.provenance.fixity import fixity_events, record_checks
from server.storage import InvalidRange, ObjectNotFound, ObjectStore, content_disposition
from server.storage.base import ObjectReader

HINTS = 4096  # tokens remembered for the fused fast path


class DownloadCorrupted(Exception):
    """Raised mid-stream: the bytes served so far do not hash to the recorded sha256."""


class Guard:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        signer: UrlSigner,
        events: EventBus | None = None,
    ) -> None:
        self.sessions = sessions
        self.events: EventBus = events or MemoryBus()
        self.store = store
        self.signer = signer
        self.oidc = OidcVerifier.from_settings(settings)
        self.limiter: RateLimiter = limiter_from_settings(settings)
        # API tokens by hash -> the principal they were last authenticated as: a hint for
        # the compiled fast path's fused statement, which checks the token again itself
        self._hints: OrderedDict[str, Principal] = OrderedDict()

    def hinted(self, header: str | None) -> tuple[str, Principal] | None:
        """(token hash, the principal it was last seen as) of a bearer API token seen
        before; None otherwise (no header, a JWT, a token not seen yet)."""
        token = _bearer(header)
        if token is None or looks_like_jwt(token):
            return None
        digest = hash_token(token)
        principal = self._hints.get(digest)
        return None if principal is None else (digest, principal)

    def forget(self, token_hash: str) -> None:
        self._hints.pop(token_hash, None)

    def _hint(self, token: str, principal: Principal) -> None:
        digest = hash_token(token)
        self._hints[digest] = principal
        self._hints.move_to_end(digest)
        if len(self._hints) > HINTS:
            self._hints.popitem(last=False)

    async def principal(self, session: AsyncSession, header: str | None) -> Principal:
        """ANONYMOUS without a header; AuthError for a malformed or unusable credential."""
        if not header:
            return ANONYMOUS
        token = _bearer(header)
        if token is None:
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        if self.oidc is not None and looks_like_jwt(token):
            principal = await self.oidc.authenticate(session, token)
        else:
            principal = await authenticate(session, token)
            self._hint(token, principal)
        # keep last-used times and new identities; on SQLite end the read as well, so that a
        # write later in the request does not upgrade a stale snapshot (SQLITE_BUSY). On
        # PostgreSQL (read committed) a read needs no COMMIT: the request's own statements
        # go on in the same transaction, a round trip (and a BEGIN) saved.
        wrote = take_written(session)
        if wrote or session.get_bind().dialect.name == "sqlite":
            await session.commit()
        return principal

    async def download(self, request: Request) -> Response:
        """GET or HEAD /graphql?download=<file id>&expires=..&signature=.. (embedded mode):
        the URL is the capability, issued by `downloadUrl` to a caller who may read the
        file. A single Range is answered 206 (server/http/ranges.py)."""
        try:
            file_id = int(request.query_params["download"])
            expires = int(request.query_params["expires"])
            signature = request.query_params["signature"]
        except (KeyError, ValueError):
            return _error(400, DownloadCode.BAD_URL, "not a download URL issued by this server")
        if problem := self.signer.verify_download(file_id, expires, signature):
            return _error(403, DownloadCode.URL_REFUSED, problem)
        async with self.sessions() as session:
            row = await session.get(DatasetFile, file_id)
        if row is None:
            return _error(404, DownloadCode.NOT_FOUND, "file not found")
        rep = Representation(row.size, row.sha256, row.created_at)
        try:
            refuse_failed_fixity(row)
            if ranges.not_modified(request.headers, rep):
                return Response(status_code=304, headers=rep.headers())
            span = ranges.span_of(request.headers, rep)
            reader = await self.store.open_read(
                self.store.buckets.raw, row.raw_key, span.offset, span.length
            )
        except DomainError as error:
            return _error(409, DownloadCode.FIXITY_FAILED, error.details[0].message)
        except RangeRefused as error:
            return ranges.refusal(error, rep)
        except ObjectNotFound:
            await self._record_failure(row, "missing")
            return _error(409, DownloadCode.FIXITY_FAILED, f"{row.name} is gone from the store")
        except InvalidRange:  # the range is inside the recorded size, not the stored one
            await self._record_failure(row, f"smaller than its recorded {row.size} bytes")
            return _error(409, DownloadCode.FIXITY_FAILED, f"the stored copy of {row.name} shrank")
        if reader.info.size != row.size:
            await reader.aclose()
            await self._record_failure(row, f"size {reader.info.size}, expected {row.size}")
            return _error(
                409, DownloadCode.FIXITY_FAILED, f"the stored copy of {row.name} was altered"
            )
        status, headers = ranges.framing(span, rep)
        headers["Content-Disposition"] = content_disposition(row.name)
        headers["Cache-Control"] = "private, no-store"
        media_type = row.media_type or "application/octet-stream"
        if request.method == "HEAD":
            await reader.aclose()
            return Response(status_code=status, headers=headers, media_type=media_type)
        # a range cannot be checked against the file's sha256: the client checks the whole
        body = reader if span.partial else self._verified(reader, row)
        return StreamingResponse(body, status, headers, media_type)

    async def _verified(self, reader: ObjectReader, row: DatasetFile) -> AsyncIterator[bytes]:
        """The object's chunks, hashed on the way; the last one is held back until the
        digest matches the recorded sha256. On a mismatch the response breaks off short of
        its Content-Length, so no client takes the bytes for a complete file, and the
        failure is recorded (later downloads are refused before they start)."""
        digest, held = hashlib.sha256(), b""
        async with reader:
            async for chunk in reader:
                digest.update(chunk)
                if held:
                    yield held
                held = chunk
        actual = digest.hexdigest()
        if actual != row.sha256:
            await self._record_failure(row, f"sha256 {actual}, expected {row.sha256}")
            raise DownloadCorrupted(f"file {row.id}: stored bytes differ from the recorded sha256")
        if held:
            yield held

    async def _record_failure(self, row: DatasetFile, result: str) -> None:
        await self.record_failure(row.raw_key, result)

    async def record_failure(self, raw_key: str, result: str) -> None:
        """A fixity failure found by a download: recorded, audited and announced like one
        the schedule finds."""
        now = utcnow()
        async with self.sessions() as session:
            failures = await record_checks(
                session,
                f"download-{uuid.uuid4().hex[:8]}",
                {raw_key: result},
                started_at=now,
                ended_at=now,
            )
            await session.commit()
        for channel, message in fixity_events(failures):
            with contextlib.suppress(Exception):  # the database and the audit log have it
                await self.events.publish(channel, message)


def _bearer(header: str | None) -> str | None:
    """The token of an 'Authorization: Bearer <token>' header; None for anything else."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
