"""Uploads: start (URLs straight to object storage), complete (verify, queue), abort.

Bytes never pass through the API when the store presigns (S3/MinIO); in embedded mode the
URLs point at the server's own signed upload endpoint (`server/http/upload_endpoint.py`). The
multipart lifecycle is the same in both modes. The raw object is never changed or deleted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.core.errors import Collector, DomainError, ErrorCode, NotFound
from server.core.url_signing import UrlSigner
from server.datasets.errors import DatasetErrorCode
from server.datasets.paths import basename, case_clashes, check_path, path_key
from server.datasets.service import require_contributor, require_draft, visible_version
from server.datasets.upload_states import FINAL, move
from server.models import Dataset, DatasetFile, DatasetVersion, Upload
from server.models.enums import UploadState
from server.provenance.ingest import record_uploads
from server.storage import ObjectExists, ObjectStore, PartInfo, StorageError, safe_key
from server.storage.base import ObjectInfo

MiB = 1024 * 1024
SINGLE_PUT_MAX = 64 * MiB
PART_SIZE = 16 * MiB  # FACTS.md: on SeaweedFS 16 MiB parts are as good as 64 MiB
MAX_PARTS = 10_000
URLS_PER_REQUEST = 100
URL_LIFETIME = dt.timedelta(hours=1)
T = TypeVar("T")
log = logging.getLogger(__name__)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass
class UploadTicket:
    """What a client needs to send the bytes: one PUT URL, or part URLs of a multipart."""

    upload: Upload
    put_url: str | None = None
    part_size: int | None = None
    part_count: int | None = None
    part_urls: dict[int, str] = field(default_factory=dict)
    expires_at: dt.datetime | None = None


def plan_parts(size: int) -> tuple[int, int]:
    part = max(PART_SIZE, math.ceil(size / MAX_PARTS / MiB) * MiB)
    return part, math.ceil(size / part)


async def taken_paths(
    session: AsyncSession, version_id: int, paths: Sequence[str]
) -> dict[str, str]:
    """path_key -> path of the version's files and of its uploads still on their way, for the
    keys of `paths` only (what case_clashes compares them with): a folder's later chunks do
    not read back every path its earlier ones declared."""
    keys = sorted({path_key(path) for path in paths})
    if not keys:
        return {}
    files = await session.execute(
        select(DatasetFile.path_key, DatasetFile.path).where(
            DatasetFile.version_id == version_id, DatasetFile.path_key.in_(keys)
        )
    )
    uploads = await session.execute(
        select(Upload.path_key, Upload.path).where(
            Upload.version_id == version_id,
            Upload.path_key.in_(keys),
            Upload.state.not_in(FINAL - {UploadState.READY}),
        )
    )
    return {key: path for key, path in [*uploads.all(), *files.all()]}


@dataclass(frozen=True)
class Declared:
    """One file as a client declares it before sending its bytes."""

    path: str
    byte_size: int
    sha256: str | None = None
    content_type: str | None = None


def check_declaration(errors: Collector, given: Declared, max_bytes: int) -> Declared:
    """The declaration with its path normalised; its refusals in `errors`."""
    path = check_path(errors, given.path, "filename")
    if given.byte_size < 0:
        errors.add(DatasetErrorCode.INVALID_SIZE, "byteSize cannot be negative", "byteSize")
    elif given.byte_size == 0:
        errors.add(DatasetErrorCode.EMPTY_FILE, "a 0-byte file carries no data", "byteSize")
    elif given.byte_size > max_bytes:
        errors.add(
            DatasetErrorCode.TOO_LARGE, f"files are limited to {max_bytes} bytes", "byteSize"
        )
    sha256 = given.sha256
    if sha256 is not None and not _SHA256.match(sha256):
        errors.add(
            DatasetErrorCode.INVALID_SHA256, "sha256 must be 64 hexadecimal characters", "sha256"
        )
    content_type = given.content_type
    if content_type is not None and (len(content_type) > 255 or "\n" in content_type):
        errors.add(
            DatasetErrorCode.INVALID_CONTENT_TYPE, "contentType is not a media type", "contentType"
        )
    return Declared(path, given.byte_size, sha256.lower() if sha256 else None, content_type)


async def writable_version(
    session: AsyncSession, principal: Principal, version_id: int
) -> tuple[DatasetVersion, Dataset]:
    """The draft version the principal may upload to."""
    version, dataset = await visible_version(session, principal, version_id)
    await require_contributor(session, principal, dataset)
    require_draft(version)
    return version, dataset


def new_upload(principal: Principal, version: DatasetVersion, declared: Declared) -> Upload:
    """The row of a checked declaration (AWAITING_UPLOAD); its object key is set once its id
    is known (`raw_key`)."""
    return Upload(
        version_id=version.id,
        filename=basename(declared.path),
        path=declared.path,
        path_key=path_key(declared.path),
        object_key=f"pending/{version.id}/{uuid.uuid4().hex}",
        declared_size=declared.byte_size,
        declared_sha256=declared.sha256,
        content_type=declared.content_type,
        state=UploadState.AWAITING_UPLOAD,
        created_by=principal.account_id,
    )


async def start_upload(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    signer: UrlSigner,
    *,
    version_id: int,
    filename: str,
    byte_size: int,
    max_bytes: int,
    sha256: str | None = None,
    content_type: str | None = None,
) -> UploadTicket:
    upload = await declare_upload(
        session,
        principal,
        version_id=version_id,
        filename=filename,
        byte_size=byte_size,
        max_bytes=max_bytes,
        sha256=sha256,
        content_type=content_type,
    )
    ticket = UploadTicket(upload=upload)
    if byte_size > SINGLE_PUT_MAX:
        upload.part_size, count = plan_parts(byte_size)
        upload.multipart_id = await storage_call(
            store.create_multipart(store.buckets.raw, upload.object_key, content_type)
        )
        ticket.part_size, ticket.part_count = upload.part_size, count
    await session.flush()
    first = range(1, min(ticket.part_count or 0, URLS_PER_REQUEST) + 1)
    async with aborted_on_error(store, upload):
        await issue_urls(store, signer, ticket, parts=first)
    return ticket


@asynccontextmanager
async def aborted_on_error(store: ObjectStore, upload: Upload) -> AsyncIterator[None]:
    """The upload's multipart session is aborted when the block fails (no upload will
    name it); an abort that fails too is logged, the block's error raised."""
    try:
        yield
    except BaseException:
        if upload.multipart_id is not None:
            try:
                await store.abort_multipart(
                    store.buckets.raw, upload.object_key, upload.multipart_id
                )
            except StorageError:
                log.warning("multipart %s of %s left open", upload.multipart_id, upload.object_key)
        raise


async def upload_through_api(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    *,
    version_id: int,
    filename: str,
    byte_size: int,
    max_bytes: int,
    chunks: AsyncIterator[bytes],
    sha256: str | None = None,
    content_type: str | None = None,
    client: str | None = None,
) -> Upload:
    """A small file sent through the API (GraphQL multipart request): stored, then checked
    and queued exactly like a direct upload."""
    upload = await declare_upload(
        session,
        principal,
        version_id=version_id,
        filename=filename,
        byte_size=byte_size,
        max_bytes=max_bytes,
        sha256=sha256,
        content_type=content_type,
    )
    await storage_call(
        store.put(
            store.buckets.raw, upload.object_key, chunks, size=byte_size, content_type=content_type
        )
    )
    return await complete_upload(
        session, principal, store, upload.id, client=client, transport="GraphQL multipart request"
    )


async def declare_upload(
    session: AsyncSession,
    principal: Principal,
    *,
    version_id: int,
    filename: str,
    byte_size: int,
    max_bytes: int,
    sha256: str | None = None,
    content_type: str | None = None,
) -> Upload:
    """Check the declaration and record the upload (AWAITING_UPLOAD) with its object key."""
    version, dataset = await writable_version(session, principal, version_id)
    errors = Collector()
    declared = check_declaration(
        errors, Declared(filename, byte_size, sha256, content_type), max_bytes
    )
    if not any(d.field == "filename" for d in errors.details):
        taken = await taken_paths(session, version.id, [declared.path])
        for code, message in case_clashes([declared.path], taken).values():
            errors.add(code, message, "filename")
    errors.raise_if_any()
    upload = new_upload(principal, version, declared)
    session.add(upload)
    await session.flush()
    upload.object_key = raw_key(dataset, version, upload)
    await session.flush()
    return upload


def raw_key(dataset: Dataset, version: DatasetVersion, upload: Upload) -> str:
    return safe_key(
        "datasets",
        str(dataset.id),
        f"v{version.number}",
        "uploads",
        str(upload.id),
        upload.filename,
    )


async def issue_urls(
    store: ObjectStore, signer: UrlSigner, ticket: UploadTicket, parts: range | list[int]
) -> None:
    upload = ticket.upload
    expires = URL_LIFETIME
    ticket.expires_at = dt.datetime.now(dt.UTC) + expires
    bucket, key = store.buckets.raw, upload.object_key
    if upload.multipart_id is None:
        ticket.put_url = (
            await storage_call(store.presigned_put(bucket, key, expires, upload.declared_sha256))
            if store.supports_presigned
            else signer.upload_url(upload.id, None, expires)
        )
        return
    for number in parts:
        ticket.part_urls[number] = (
            await storage_call(
                store.presigned_part_url(bucket, key, upload.multipart_id, number, expires)
            )
            if store.supports_presigned
            else signer.upload_url(upload.id, number, expires)
        )


async def storage_call(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except ObjectExists as error:
        raise DomainError.one(DatasetErrorCode.OBJECT_EXISTS, str(error)[:300]) from error
    except StorageError as error:
        raise DomainError.one(
            ErrorCode.STORAGE_UNAVAILABLE if error.transient else DatasetErrorCode.STORAGE_ERROR,
            str(error)[:300],
        ) from error


async def visible_upload(
    session: AsyncSession, principal: Principal, upload_id: int
) -> tuple[Upload, DatasetVersion, Dataset]:
    upload = await session.get(Upload, upload_id)
    if upload is None:
        raise NotFound("upload", "uploadId")
    version, dataset = await visible_version(session, principal, upload.version_id, "uploadId")
    await require_contributor(session, principal, dataset)
    return upload, version, dataset


def part_count(upload: Upload) -> int:
    assert upload.part_size
    return math.ceil(upload.declared_size / upload.part_size)


async def refresh_urls(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    signer: UrlSigner,
    upload_id: int,
    part_numbers: list[int] | None,
) -> UploadTicket:
    upload, _, _ = await visible_upload(session, principal, upload_id)
    _require_state(upload, UploadState.AWAITING_UPLOAD)
    ticket = UploadTicket(upload=upload)
    if upload.multipart_id is not None:
        count = part_count(upload)
        wanted = sorted(set(part_numbers or range(1, min(count, URLS_PER_REQUEST) + 1)))
        if bad := [n for n in wanted if not 1 <= n <= count]:
            raise DomainError.one(
                DatasetErrorCode.INVALID_PART,
                f"parts are numbered 1 to {count}, not {bad[:5]}",
                "partNumbers",
            )
        if len(wanted) > URLS_PER_REQUEST:
            raise DomainError.one(
                DatasetErrorCode.TOO_MANY_PARTS,
                f"ask for at most {URLS_PER_REQUEST} parts",
                "partNumbers",
            )
        ticket.part_size, ticket.part_count = upload.part_size, count
        await issue_urls(store, signer, ticket, wanted)
    else:
        await issue_urls(store, signer, ticket, [])
    return ticket


def _require_state(upload: Upload, *states: UploadState, field: str = "uploadId") -> None:
    if upload.state not in states:
        raise DomainError.one(
            DatasetErrorCode.INVALID_UPLOAD_STATE,
            f"upload {upload.id} is {upload.state.value},"
            f" not {' or '.join(s.value for s in states)}",
            field,
        )


async def parts_received(store: ObjectStore, upload: Upload) -> list[PartInfo]:
    if upload.multipart_id is None or upload.state != UploadState.AWAITING_UPLOAD:
        return []
    return await storage_call(
        store.list_parts(store.buckets.raw, upload.object_key, upload.multipart_id)
    )


async def complete_upload(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    upload_id: int,
    *,
    client: str | None = None,
    transport: str | None = None,
) -> Upload:
    """Check the object against the declaration; queue it for processing (the caller enqueues
    the job after commit). A wrong size rejects the upload; the raw object stays."""
    [done] = await complete_many(
        session, principal, store, [upload_id], client=client, transport=transport
    )
    if isinstance(done, DomainError):
        raise done
    return done


STAT_CONCURRENCY = 16  # object-store checks in flight for one batch


async def complete_many(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    upload_ids: Sequence[int],
    *,
    client: str | None = None,
    transport: str | None = None,
    field: str = "uploadId",
) -> list[Upload | DomainError]:
    """complete_upload for many uploads, set-based: the rows in one query, the rights once
    per version, the objects checked concurrently, the PROV records in a few statements.
    Each upload answers alone: its row, or the DomainError refusing it (naming `field`);
    nothing of a refused one is written."""
    rows = {
        u.id: u
        for u in await session.scalars(
            select(Upload).where(Upload.id.in_(upload_ids)).order_by(Upload.id).with_for_update()
        )
    }
    places: dict[int, DomainError | DatasetVersion] = {}
    for version_id in sorted({u.version_id for u in rows.values()}):
        try:
            version, dataset = await visible_version(session, principal, version_id, field)
            await require_contributor(session, principal, dataset)
            places[version_id] = version
        except DomainError as error:
            places[version_id] = error
    answers: list[Upload | DomainError] = []
    taken: set[int] = set()
    for upload_id in upload_ids:
        try:
            answers.append(_completable(rows.get(upload_id), places, taken, field))
        except DomainError as error:
            answers.append(error)
    gate = asyncio.Semaphore(STAT_CONCURRENCY)

    async def received(upload: Upload) -> ObjectInfo | DomainError:
        async with gate:
            try:
                return await _received(store, upload, field)
            except DomainError as error:
                return error

    checked = [a for a in answers if isinstance(a, Upload)]
    found = dict(
        zip(
            [u.id for u in checked],
            await asyncio.gather(*(received(u) for u in checked)),
            strict=True,
        )
    )
    done: list[Upload] = []
    for i, answer in enumerate(answers):
        if isinstance(answer, Upload):
            info = found[answer.id]
            if isinstance(info, DomainError):
                answers[i] = info
            else:
                _arrived(answer, info)
                done.append(answer)
    await session.flush()
    if done:
        where = "presigned object-store URL" if store.supports_presigned else "server endpoint"
        transports = [
            transport or f"{'multipart' if u.multipart_id else 'single PUT'} to a {where}"
            for u in done
        ]
        await record_uploads(session, done, client=client, transports=transports)
    return answers


def _completable(
    upload: Upload | None,
    places: dict[int, DomainError | DatasetVersion],
    taken: set[int],
    field: str,
) -> Upload:
    """The upload, when it may be completed now (each once in a batch)."""
    if upload is None:
        raise NotFound("upload", field)
    place = places[upload.version_id]
    if isinstance(place, DomainError):
        raise place
    if upload.id in taken:
        raise DomainError.one(
            DatasetErrorCode.INVALID_UPLOAD_STATE,
            f"upload {upload.id} is twice in the batch",
            field,
        )
    _require_state(upload, UploadState.AWAITING_UPLOAD, field=field)
    require_draft(place, field)
    taken.add(upload.id)
    return upload


async def _received(store: ObjectStore, upload: Upload, field: str) -> ObjectInfo:
    """The object the client sent (its multipart completed first)."""
    bucket, key = store.buckets.raw, upload.object_key
    if upload.multipart_id is not None:
        parts = await parts_received(store, upload)
        expected = part_count(upload)
        numbers = [p.part_number for p in parts]
        if numbers != list(range(1, expected + 1)):
            missing = sorted(set(range(1, expected + 1)) - set(numbers))
            raise DomainError.one(
                DatasetErrorCode.PARTS_MISSING, f"parts not received yet: {missing[:20]}", field
            )
        await storage_call(store.complete_multipart(bucket, key, upload.multipart_id, parts))
    # a single PUT of a declared sha256 had it signed in (S3): the same HEAD reads the
    # store's checksum, so that the worker need not ask again (workers/raw_reads.py)
    checksum = upload.multipart_id is None and upload.declared_sha256 is not None
    info = await storage_call(store.stat(bucket, key, checksum=checksum))
    if info is None:
        raise DomainError.one(
            DatasetErrorCode.NOT_UPLOADED, "no bytes have arrived for this upload yet", field
        )
    return info


def _arrived(upload: Upload, info: ObjectInfo) -> None:
    """UPLOADED, then QUEUED, or REJECTED when the size is not the declared one."""
    move(upload, UploadState.UPLOADED)
    upload.size, upload.store_sha256 = info.size, info.store_sha256
    if info.size != upload.declared_size:
        move(
            upload,
            UploadState.REJECTED,
            code="SIZE_MISMATCH",
            message=f"declared {upload.declared_size} bytes, received {info.size}",
        )
    else:
        move(upload, UploadState.QUEUED)


async def abort_upload(
    session: AsyncSession, principal: Principal, store: ObjectStore, upload_id: int
) -> Upload:
    upload, _, _ = await visible_upload(session, principal, upload_id)
    _require_state(upload, UploadState.AWAITING_UPLOAD, UploadState.UPLOADED)
    if upload.multipart_id is not None and upload.state == UploadState.AWAITING_UPLOAD:
        await storage_call(
            store.abort_multipart(store.buckets.raw, upload.object_key, upload.multipart_id)
        )
    move(upload, UploadState.ABORTED)
    await session.flush()
    return upload
