"""Uploads: startUpload, refreshUploadUrls, completeUpload, abortUpload, upload(id)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, cast

import strawberry
from starlette.datastructures import UploadFile as StarletteUploadFile
from strawberry import relay
from strawberry.file_uploads import Upload as FileUpload

from schema.connections import decode_id
from schema.context import Info
from schema.datasets import Upload
from schema.errors import PublicError, UserError, mutate
from schema.scalars import Long
from server.core.errors import DomainError
from server.core.events import CATCH_UP_SECONDS, RECHECK_SECONDS, or_every, upload_channel
from server.core.jobs import PROCESS_UPLOAD
from server.datasets import queries as datasets
from server.datasets import uploads as service
from server.datasets.upload_states import FINAL, passed_through
from server.models.enums import UploadState


@strawberry.type
class UploadPart:
    part_number: int
    url: str


@strawberry.type(description="Where to send the bytes: one PUT URL, or a URL per part")
class UploadInstructions:
    put_url: str | None
    part_size: Long | None
    part_count: int | None
    parts: list[UploadPart]
    expires_at: dt.datetime | None


@strawberry.type
class StartUploadPayload:
    upload: Upload | None = None
    instructions: UploadInstructions | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UploadPayload:
    upload: Upload | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


def _after_complete(ctx: Any, upload: Any) -> None:
    """Once committed: tell subscribers, and queue processing when the upload is QUEUED."""
    message = {"uploadId": upload.id, "state": upload.state.value}
    ctx.events_after_commit.append((upload_channel(upload.id), message))
    if upload.state == UploadState.QUEUED:
        job = f"{PROCESS_UPLOAD}:{upload.id}:{upload.attempts}"
        ctx.enqueue_after_commit(PROCESS_UPLOAD, upload.id, job_id=job)


def _instructions(ticket: service.UploadTicket) -> UploadInstructions:
    return UploadInstructions(
        put_url=ticket.put_url,
        part_size=Long(ticket.part_size) if ticket.part_size else None,
        part_count=ticket.part_count,
        parts=[UploadPart(part_number=n, url=u) for n, u in sorted(ticket.part_urls.items())],
        expires_at=ticket.expires_at,
    )


async def _start_payload(info: Info, op: Any) -> StartUploadPayload:
    result = await mutate(info, op, scope="upload")
    if isinstance(result, list):
        return StartUploadPayload(errors=result)
    return StartUploadPayload(
        upload=Upload.from_row(result.upload), instructions=_instructions(result)
    )


@strawberry.type
class UploadQueries:
    @strawberry.field(description="An upload you may see, by its id")
    async def upload(self, info: Info, id: relay.GlobalID) -> Upload | None:
        try:
            upload_id = decode_id(id, "DatasetUpload", "id")
        except DomainError as error:
            raise PublicError(error) from error
        row = await info.context.loaders.one_visible(datasets.uploads_by_id).load(upload_id)
        return Upload.from_row(row) if row is not None else None


@strawberry.type
class UploadMutations:
    @strawberry.mutation(description="Declare a file; get URLs to send its bytes to")
    async def start_upload(
        self,
        info: Info,
        dataset_version_id: relay.GlobalID,
        filename: str,
        byte_size: Long,
        sha256: str | None = None,
        content_type: str | None = None,
    ) -> StartUploadPayload:
        ctx = info.context

        async def op(session: Any, principal: Any) -> service.UploadTicket:
            return await service.start_upload(
                session,
                principal,
                ctx.store,
                ctx.signer,
                version_id=decode_id(dataset_version_id, "DatasetVersion", "datasetVersionId"),
                filename=filename,
                byte_size=int(byte_size),
                max_bytes=ctx.settings.max_upload_bytes,
                sha256=sha256,
                content_type=content_type,
            )

        return await _start_payload(info, op)

    @strawberry.mutation(description="New URLs for an unfinished upload (all parts, or some)")
    async def refresh_upload_urls(
        self, info: Info, upload_id: relay.GlobalID, part_numbers: list[int] | None = None
    ) -> StartUploadPayload:
        ctx = info.context

        async def op(session: Any, principal: Any) -> service.UploadTicket:
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
    async def complete_upload(self, info: Info, upload_id: relay.GlobalID) -> UploadPayload:
        ctx = info.context

        async def op(session: Any, principal: Any) -> Any:
            upload = await service.complete_upload(
                session,
                principal,
                ctx.store,
                decode_id(upload_id, "DatasetUpload", "uploadId"),
                client=ctx.user_agent,
            )
            _after_complete(ctx, upload)
            return upload

        result = await mutate(info, op, scope="upload")
        if isinstance(result, list):
            return UploadPayload(errors=result)
        return UploadPayload(upload=Upload.from_row(result))

    @strawberry.mutation(
        description="Send a small file through the API (GraphQL multipart request spec;"
        " needs the Apollo-Require-Preflight header). Larger files: startUpload."
    )
    async def upload_file(
        self,
        info: Info,
        dataset_version_id: relay.GlobalID,
        file: FileUpload,
        sha256: str | None = None,
    ) -> UploadPayload:
        ctx = info.context
        content = cast(StarletteUploadFile, file)

        async def chunks() -> AsyncIterator[bytes]:
            while block := await content.read(1024 * 1024):
                yield block

        async def op(session: Any, principal: Any) -> Any:
            upload = await service.upload_through_api(
                session,
                principal,
                ctx.store,
                version_id=decode_id(dataset_version_id, "DatasetVersion", "datasetVersionId"),
                filename=content.filename or "",
                byte_size=content.size or 0,
                max_bytes=ctx.settings.max_api_upload_bytes,
                chunks=chunks(),
                sha256=sha256,
                content_type=content.content_type,
                client=ctx.user_agent,
            )
            _after_complete(ctx, upload)
            return upload

        result = await mutate(info, op, scope="upload")
        if isinstance(result, list):
            return UploadPayload(errors=result)
        return UploadPayload(upload=Upload.from_row(result))

    @strawberry.mutation(description="Give up an upload that has not been processed")
    async def abort_upload(self, info: Info, upload_id: relay.GlobalID) -> UploadPayload:
        ctx = info.context

        async def op(session: Any, principal: Any) -> Any:
            return await service.abort_upload(
                session, principal, ctx.store, decode_id(upload_id, "DatasetUpload", "uploadId")
            )

        result = await mutate(info, op, scope="upload")
        if isinstance(result, list):
            return UploadPayload(errors=result)
        return UploadPayload(upload=Upload.from_row(result))


@strawberry.type
class UploadSubscriptions:
    @strawberry.subscription(
        description="The upload now, then each change until it is READY, FAILED, REJECTED"
        " or ABORTED (graphql-transport-ws; authenticate in connection_init)"
    )
    async def upload_status(
        self, info: Info, upload_id: relay.GlobalID
    ) -> AsyncGenerator[Upload, None]:
        ctx = info.context
        try:
            uid = decode_id(upload_id, "DatasetUpload", "uploadId")
        except DomainError as error:
            raise PublicError(error) from error

        async def current() -> Any:
            async with ctx.sessions() as session:
                found = await datasets.uploads_by_id(session, ctx.principal, [uid])
            if uid not in found:
                raise PublicError(DomainError.one("NOT_FOUND", "upload not found", "uploadId"))
            return found[uid]

        # subscribe first, then read: a change between the two is never missed
        async with ctx.events.subscribe(upload_channel(uid)) as events:
            behind = False  # the row is further on than the states shown so far

            def wait() -> float:
                return CATCH_UP_SECONDS if behind else RECHECK_SECONDS

            changes = or_every(events, wait)  # a killed worker sends no event
            row = await current()
            yield Upload.from_row(row)
            shown: tuple[UploadState, int | None] = (row.state, row.attempts)
            while shown[0] not in FINAL:
                message = await anext(changes)
                fresh = await current()
                announced = _announced_state(message)
                if announced is not None and passed_through(shown[0], announced, fresh.state):
                    # the row moved on before we read it: the states events told of still
                    # reach the subscriber, in order, while their events keep coming
                    yield _as_of(fresh, announced)
                    shown, behind = (announced, None), True
                    continue
                behind = False
                if (fresh.state, fresh.attempts) != shown:
                    yield Upload.from_row(fresh)
                shown = (fresh.state, fresh.attempts)


def _as_of(row: Any, state: UploadState) -> Upload:
    """The upload as it was in `state`, a state it has since left (never a final one)."""
    return dataclasses.replace(
        Upload.from_row(row), state=state, finished_at=None, error_code=None, error_message=None
    )


def _announced_state(message: dict[str, Any] | None) -> UploadState | None:
    try:
        return UploadState(message["state"]) if message else None
    except (KeyError, ValueError):
        return None
