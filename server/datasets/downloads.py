"""Download URLs of dataset files: only for callers who may read the data, expiring in
minutes, each one recorded in the audit log. With S3 they are presigned GETs; embedded, they
point at the server itself (`GET /graphql?download=<file id>&expires=..&signature=..`).
No URL is issued for a file whose latest fixity check failed (`FIXITY_FAILED`): a presigned
GET goes straight to S3, past the server, so the refusal has to come first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from server.access import audit
from server.access.auth import Principal
from server.access.visibility import readable_file_ids
from server.core.errors import DomainError, ErrorCode, Forbidden, NotFound
from server.core.url_signing import UrlSigner
from server.datasets.errors import DatasetErrorCode
from server.datasets.queries import files_by_id
from server.models import DatasetFile
from server.models.enums import FixityOutcome
from server.storage import ObjectStore, UnsupportedOperation


class DownloadCode(StrEnum):
    """The codes of the download routes' refusals (`{"error": {"code", "message"}}`): a
    file's signed URL, a provenance export's, a version's archive, a landing page's file."""

    BAD_URL = "BAD_URL"
    URL_REFUSED = "URL_REFUSED"
    NOT_FOUND = "NOT_FOUND"
    FIXITY_FAILED = "FIXITY_FAILED"
    INVALID_RANGE = "INVALID_RANGE"
    RANGE_NOT_SATISFIABLE = "RANGE_NOT_SATISFIABLE"
    EMBARGOED = "EMBARGOED"  # a public record's file, closed until its embargo lifts
    NOT_PUBLIC = "NOT_PUBLIC"  # a public record's file the public may not read
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"  # a landing page offers none of the Accept header's types


@dataclass(frozen=True)
class DownloadTicket:
    url: str
    expires_at: dt.datetime


async def issue_download(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    signer: UrlSigner,
    file_id: int,
    *,
    lifetime: dt.timedelta,
    client: str | None = None,
) -> DownloadTicket:
    """A URL for the file's bytes; refusals are recorded too. The caller commits."""
    found = (await files_by_id(session, principal, [file_id])).get(file_id)
    try:
        if found is None:
            raise NotFound("file", "fileId")
        if not principal.has_scope("read"):
            raise DomainError.one(ErrorCode.INSUFFICIENT_SCOPE, "this token lacks the read scope")
        if file_id not in await readable_file_ids(session, principal, [file_id]):
            raise Forbidden("you may see this file's metadata but not download its data")
        refuse_failed_fixity(found)
        ticket = await _sign(store, signer, found, lifetime)
    except DomainError as error:
        code = error.details[0].code
        await audit.record(
            session, _event(principal, file_id, client, audit.outcome_of(code), code)
        )
        raise
    await audit.record(session, _event(principal, file_id, client, audit.OK, None))
    return ticket


def refuse_failed_fixity(file: DatasetFile) -> None:
    """No URL for a file whose latest fixity check failed: its stored bytes are not the
    ones recorded (altered or gone behind the server's back), and serving them would pass
    wrong data off as the dataset's. A check that passes again lifts the refusal."""
    if file.fixity_outcome not in (None, FixityOutcome.OK):
        raise DomainError.one(
            DatasetErrorCode.FIXITY_FAILED,
            f"the stored copy of {file.name} failed its fixity check ({file.fixity_outcome},"
            f" {file.fixity_checked_at}): it is not served; the repository's operators have"
            " been told",
            "fileId",
        )


def _event(
    principal: Principal, file_id: int, client: str | None, outcome: str, code: str | None
) -> audit.AuditEvent:
    return audit.event(
        principal,
        "downloadUrl",
        target_type="DatasetFile",
        target_id=file_id,
        outcome=outcome,
        code=code,
        client=client,
    )


async def _sign(
    store: ObjectStore, signer: UrlSigner, file: DatasetFile, lifetime: dt.timedelta
) -> DownloadTicket:
    expires_at = dt.datetime.now(dt.UTC) + lifetime
    try:
        url = await store.presigned_get(store.buckets.raw, file.raw_key, lifetime, file.name)
    except UnsupportedOperation:
        url, expires = signer.download_url(file.id, lifetime)
        expires_at = dt.datetime.fromtimestamp(expires, dt.UTC)
    return DownloadTicket(url=url, expires_at=expires_at)
