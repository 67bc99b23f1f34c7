"""Uploads, written: startUpload, refreshUploadUrls, completeUpload, uploadFile, abortUpload."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile as StarletteUploadFile
from strawberry.file_uploads import Upload as FileUpload

from schema.connections import decode_id
from schema.context import Context, Info
from schema.datasets.types import (
    StartUploadPayload,
    Upload,
    UploadInstructions,
    UploadPart,
    UploadPayload,
)
from schema.errors import fields_named
from schema.payloads import payload
from schema.scalars import Long
from server import models
from server.access.auth import Principal
from server.core.errors import DomainError, ErrorCode
from server.core.events import upload_channel
from server.core.jobs import PROCESS_UPLOAD
from server.datasets import uploads as service
from server.models.enums import UploadState


def after_complete(ctx: Context, upload: models.Upload) -> None:
    """Once committed: tell subscribers, and queue processing when the upload is QUEUED."""
    message = {"uploadId": upload.id, "state": upload.state.value}
    ctx.events_after_commit.append((upload_channel(upload.id), message))
    if upload.state == UploadState.QUEUED:
        job = f"{PROCESS_UPLOAD}:{upload.id}:{upload.attempts}"
        ctx.enqueue_after_commit(PROCESS_UPLOAD, upload.id, job_id=job)


def abort_on_rollback(ctx: Context, upload: models.Upload) -> None:
    """A multipart session opened for an upload whose transaction then rolls back (the
    commit fails, the batch is refused) is aborted: no row names it any more."""
    multipart_id, key = upload.multipart_id, upload.object_key
    if multipart_id is None:
        return
    store = ctx.store

    async def abort() -> None:
        await store.abort_multipart(store.buckets.raw, key, multipart_id)

    ctx.on_rollback.append(abort)


def instructions_of(ticket: service.UploadTicket) -> UploadInstructions:
    return UploadInstructions(
        put_url=ticket.put_url,
        part_size=Long(ticket.part_size) if ticket.part_size else None,
        part_count=ticket.part_count,
        parts=[UploadPart(part_number=n, url=u) for n, u in sorted(ticket.part_urls.items())],
        expires_at=ticket.expires_at,
    )


async def _start_payload(
    info: Info, op: Callable[[AsyncSession, Principal], Awaitable[service.UploadTicket]]
) -> StartUploadPayload:
    def done(ticket: service.UploadTicket) -> StartUploadPayload:
        return StartUploadPayload(
            upload=Upload.from_row(ticket.upload), instructions=instructions_of(ticket)
        )

    return await payload(info, op, StartUploadPayload, done, scope="upload")


async def _upload_payload(
    info: Info, op: Callable[[AsyncSession, Principal], Awaitable[models.Upload]]
) -> UploadPayload:
    def done(row: models.Upload) -> UploadPayload:
        return UploadPayload(upload=Upload.from_row(row))

    return await payload(info, op, UploadPayload, done, scope="upload")


NOT_A_FILE = (
    "file must be a file part of the request (the GraphQL multipart request spec: "
    "operations, map and the file), not a value in the document or the variables"
)


@strawberry.type
class UploadMutations:
    @strawberry.mutation(description="Declare a file; get URLs to send its bytes to")
    async def start_upload(
        self,
        info: Info,
        dataset_version_id: strawberry.ID,
        filename: str,
        byte_size: Long,
        sha256: str | None = None,
        content_type: str | None = None,
    ) -> StartUploadPayload:
        ctx = info.context

        async def op(session: AsyncSession, principal: Principal) -> service.UploadTicket:
            version_id = decode_id(dataset_version_id, "DatasetVersion", "datasetVersionId")
            with fields_named(versionId="datasetVersionId"):
                ticket = await service.start_upload(
                    session,
                    principal,
                    ctx.store,
                    ctx.signer,
                    version_id=version_id,
                    filename=filename,
                    byte_size=int(byte_size),
                    max_bytes=ctx.settings.max_upload_bytes,
                    sha256=sha256,
                    content_type=content_type,
                )
            abort_on_rollback(ctx, ticket.upload)
            return ticket

        return await _start_payload(info, op)

    @strawberry.mutation(description="New URLs for an unfinished upload (all parts, or some)")
    async def refresh_upload_urls(
        self, info: Info, upload_id: strawberry.ID, part_numbers: list[int] | None = None
    ) -> StartUploadPayload:
        ctx = info.context

        async def op(session: AsyncSession, principal: Principal) -> service.UploadTicket:
            return await service.refresh_urls(
                session,
                principal,
                ctx.store,
                ctx.signer,
                decode_id(upload_id, "DatasetUpload", "uploadId"),
                part_numbers,
            )

        return await _start_payload(info, op)

    @strawberry.mutation(description="The bytes are sent: check them and queue processing")
    async def complete_upload(self, info: Info, upload_id: strawberry.ID) -> UploadPayload:
        ctx = info.context

        async def op(session: AsyncSession, principal: Principal) -> models.Upload:
            upload = await service.complete_upload(
                session,
                principal,
                ctx.store,
                decode_id(upload_id, "DatasetUpload", "uploadId"),
                client=ctx.user_agent,
            )
            after_complete(ctx, upload)
            return upload

        return await _upload_payload(info, op)

    @strawberry.mutation(
        description="Send a small file through the API (GraphQL multipart request spec;"
        " needs the Apollo-Require-Preflight header). Larger files: startUpload."
    )
    async def upload_file(
        self,
        info: Info,
        dataset_version_id: strawberry.ID,
        file: FileUpload,
        sha256: str | None = None,
    ) -> UploadPayload:
        ctx = info.context
        content = cast(StarletteUploadFile, file)

        async def chunks() -> AsyncIterator[bytes]:
            while block := await content.read(1024 * 1024):
                yield block

        async def op(session: AsyncSession, principal: Principal) -> models.Upload:
            if not isinstance(file, StarletteUploadFile):  # a value in the document or
                # the variables where the file part should be: there is no file to read
                raise DomainError.one(ErrorCode.REQUIRED, NOT_A_FILE, "file")
            version_id = decode_id(dataset_version_id, "DatasetVersion", "datasetVersionId")
            with fields_named(versionId="datasetVersionId"):
                upload = await service.upload_through_api(
                    session,
                    principal,
                    ctx.store,
                    version_id=version_id,
                    filename=content.filename or "",
                    byte_size=content.size or 0,
                    max_bytes=ctx.settings.max_api_upload_bytes,
                    chunks=chunks(),
                    sha256=sha256,
                    content_type=content.content_type,
                    client=ctx.user_agent,
                )
            after_complete(ctx, upload)
            return upload

        return await _upload_payload(info, op)

    @strawberry.mutation(description="Give up an upload that has not been processed")
    async def abort_upload(self, info: Info, upload_id: strawberry.ID) -> UploadPayload:
        ctx = info.context

        async def op(session: AsyncSession, principal: Principal) -> models.Upload:
            return await service.abort_upload(
                session, principal, ctx.store, decode_id(upload_id, "DatasetUpload", "uploadId")
            )

        return await _upload_payload(info, op)
