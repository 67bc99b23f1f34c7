"""Uploads by the batch: `start_uploads` declares up to MAX_BATCH files of one draft in one
call, `complete_uploads` completes up to MAX_BATCH uploads. A bad entry gets its own errors
and the others proceed.

Never a half-written batch: the whole batch is one transaction, committed (or rolled back)
by the caller once. A refused declaration writes no row at all (every check runs before
the rows are added); an upload whose multipart session the store refuses has its row
deleted again before the commit; a completion runs in a savepoint of its own, rolled back
when it is refused, so what it moved or recorded goes with it. Whatever fails outside an
entry (the version, the caller's rights, the commit itself) fails the whole call and
nothing of it is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.core.db import insert_returning
from server.core.errors import Collector, DomainError, ErrorDetail
from server.core.url_signing import UrlSigner
from server.datasets.errors import DatasetErrorCode
from server.datasets.paths import case_clashes
from server.datasets.uploads import (
    SINGLE_PUT_MAX,
    URLS_PER_REQUEST,
    Declared,
    UploadTicket,
    aborted_on_error,
    check_declaration,
    complete_many,
    issue_urls,
    new_upload,
    plan_parts,
    raw_key,
    storage_call,
    taken_paths,
    writable_version,
)
from server.models import Upload
from server.storage import ObjectStore

MAX_BATCH = 1000
T = TypeVar("T")


@dataclass
class Entry(Generic[T]):
    """One entry of a batch, by its position in the request: its result or its errors."""

    index: int
    result: T | None = None
    errors: list[ErrorDetail] = field(default_factory=list)


@dataclass
class Batch(Generic[T]):
    """A batch's entries, in the request's order."""

    entries: list[Entry[T]]


def _check_size(count: int, what: str) -> None:
    if count > MAX_BATCH:
        raise DomainError.one(
            DatasetErrorCode.TOO_MANY_FILES,
            f"a batch holds at most {MAX_BATCH} {what}, not {count}",
            "files" if what == "files" else "uploadIds",
        )


async def start_uploads(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    signer: UrlSigner,
    *,
    version_id: int,
    files: Sequence[Declared],
    max_bytes: int,
) -> Batch[UploadTicket]:
    _check_size(len(files), "files")
    version, dataset = await writable_version(session, principal, version_id)
    entries: list[Entry[UploadTicket]] = []
    checked: list[tuple[Entry[UploadTicket], Collector, Declared]] = []
    for index, given in enumerate(files):
        entry: Entry[UploadTicket] = Entry(index)
        entries.append(entry)
        errors = Collector()
        checked.append((entry, errors, check_declaration(errors, given, max_bytes)))
    taken = await taken_paths(
        session,
        version.id,
        [declared.path for _, errors, declared in checked if not errors.details],
    )
    accepted: list[tuple[Entry[UploadTicket], Upload]] = []
    for entry, errors, declared in checked:
        if not errors.details:  # a refused entry's path takes no place in the version
            for code, message in case_clashes([declared.path], taken).values():
                errors.add(code, message, "filename")
        if errors.details:
            entry.errors = errors.details
            continue
        accepted.append((entry, new_upload(principal, version, declared)))
    rows = await insert_returning(session, [u for _, u in accepted], Upload.object_key)
    accepted = list(zip([entry for entry, _ in accepted], rows, strict=True))
    for _, upload in accepted:
        upload.object_key = raw_key(dataset, version, upload)
    await session.flush()
    for entry, upload in accepted:
        try:
            entry.result = await _ticket(store, signer, upload)
        except DomainError as error:  # the store refused this one: its row goes again
            entry.errors = error.details
            await session.delete(upload)
    await session.flush()
    return Batch(entries)


async def _ticket(store: ObjectStore, signer: UrlSigner, upload: Upload) -> UploadTicket:
    ticket = UploadTicket(upload=upload)
    if upload.declared_size > SINGLE_PUT_MAX:
        upload.part_size, count = plan_parts(upload.declared_size)
        upload.multipart_id = await storage_call(
            store.create_multipart(store.buckets.raw, upload.object_key, upload.content_type)
        )
        ticket.part_size, ticket.part_count = upload.part_size, count
    async with aborted_on_error(store, upload):
        await issue_urls(
            store, signer, ticket, range(1, min(ticket.part_count or 0, URLS_PER_REQUEST) + 1)
        )
    return ticket


async def complete_uploads(
    session: AsyncSession,
    principal: Principal,
    store: ObjectStore,
    upload_ids: Sequence[int | DomainError],
    *,
    client: str | None = None,
    field: str = "uploadIds",
) -> Batch[Upload]:
    """Each upload checked and queued as `complete_upload` does, all at once
    (`complete_many`); an id that could not be read arrives as its DomainError. A refused
    entry's errors name `field`, the argument its id came in."""
    _check_size(len(upload_ids), "uploads")
    ids = [u for u in upload_ids if not isinstance(u, DomainError)]
    answers = iter(await complete_many(session, principal, store, ids, client=client, field=field))
    entries: list[Entry[Upload]] = []
    for index, upload_id in enumerate(upload_ids):
        entry: Entry[Upload] = Entry(index)
        entries.append(entry)
        answer = upload_id if isinstance(upload_id, DomainError) else next(answers)
        if isinstance(answer, DomainError):
            entry.errors = answer.details
        else:
            entry.result = answer
    return Batch(entries)
