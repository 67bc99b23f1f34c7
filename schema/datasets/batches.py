"""Uploads by the batch: startUploads and completeUploads (server/datasets/batches.py)."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.datasets.types import DatasetError, Upload, UploadInstructions
from schema.datasets.uploads import abort_on_rollback, instructions_of
from schema.errors import fields_named
from schema.payloads import payload
from schema.scalars import Long
from server.access.auth import Principal
from server.core.errors import DomainError, ErrorDetail
from server.core.events import upload_channel
from server.datasets import batches as service
from server.datasets.upload_jobs import Waiting, plan_jobs
from server.datasets.uploads import Declared, UploadTicket
from server.models import Upload as UploadRow
from server.models.enums import UploadState


@strawberry.input(description="One file of a batch: its path inside the version, its size")
class UploadFileInput:
    path: str = strawberry.field(description="raw/2024/station-07/log.csv")
    byte_size: Long
    sha256: str | None = None
    content_type: str | None = None


@strawberry.type(description="One file of startUploads, by its place in the request")
class StartUploadsEntry:
    index: int
    upload: Upload | None = None
    instructions: UploadInstructions | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type(description="errors: what refused the whole batch (nothing was written)")
class StartUploadsPayload:
    entries: list[StartUploadsEntry] = strawberry.field(default_factory=list)
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type(description="One upload of completeUploads, by its place in the request")
class CompleteUploadsEntry:
    index: int
    upload: Upload | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type(description="errors: what refused the whole batch (nothing was written)")
class CompleteUploadsPayload:
    entries: list[CompleteUploadsEntry] = strawberry.field(default_factory=list)
    errors: list[DatasetError] = strawberry.field(default_factory=list)


def _errors(details: list[ErrorDetail]) -> list[DatasetError]:
    """An entry's errors, at the entry's own field names (the service's `filename` is an
    entry's `path`)."""
    names = {"filename": "path"}
    return [
        DatasetError(field=names.get(d.field or "", d.field), code=d.code, message=d.message)
        for d in details
    ]


def _started(batch: service.Batch[UploadTicket]) -> StartUploadsPayload:
    return StartUploadsPayload(
        entries=[
            StartUploadsEntry(
                index=e.index,
                upload=Upload.from_row(e.result.upload) if e.result else None,
                instructions=instructions_of(e.result) if e.result else None,
                errors=_errors(e.errors),
            )
            for e in batch.entries
        ]
    )


def _completed(batch: service.Batch[UploadRow]) -> CompleteUploadsPayload:
    return CompleteUploadsPayload(
        entries=[
            CompleteUploadsEntry(
                index=e.index,
                upload=Upload.from_row(e.result) if e.result else None,
                errors=_errors(e.errors),
            )
            for e in batch.entries
        ]
    )


IDS = "uploadIds"  # the argument of completeUploads: an entry's id errors name it


def _id_or_error(value: Any) -> int | DomainError:
    try:
        return decode_id(value, "DatasetUpload", IDS)
    except DomainError as error:
        return error


@strawberry.type
class BatchUploadMutations:
    @strawberry.mutation(
        description=f"Declare up to {service.MAX_BATCH} files of a draft at once; each entry"
        " gets its URLs or its own errors (the others proceed)"
    )
    async def start_uploads(
        self, info: Info, dataset_version_id: strawberry.ID, files: list[UploadFileInput]
    ) -> StartUploadsPayload:
        ctx = info.context
        declared = [Declared(f.path, int(f.byte_size), f.sha256, f.content_type) for f in files]

        async def op(session: AsyncSession, principal: Principal) -> service.Batch[UploadTicket]:
            version_id = decode_id(dataset_version_id, "DatasetVersion", "datasetVersionId")
            with fields_named(versionId="datasetVersionId"):
                batch = await service.start_uploads(
                    session,
                    principal,
                    ctx.store,
                    ctx.signer,
                    version_id=version_id,
                    files=declared,
                    max_bytes=ctx.settings.max_upload_bytes,
                )
            for entry in batch.entries:
                if entry.result is not None:
                    abort_on_rollback(ctx, entry.result.upload)
            return batch

        return await payload(info, op, StartUploadsPayload, _started, scope="upload")

    @strawberry.mutation(
        description=f"completeUpload for up to {service.MAX_BATCH} uploads; each entry"
        " answers alone (the others proceed)"
    )
    async def complete_uploads(
        self, info: Info, upload_ids: list[strawberry.ID]
    ) -> CompleteUploadsPayload:
        ctx = info.context

        async def op(session: AsyncSession, principal: Principal) -> service.Batch[UploadRow]:
            batch = await service.complete_uploads(
                session,
                principal,
                ctx.store,
                [_id_or_error(u) for u in upload_ids],
                client=ctx.user_agent,
                field=IDS,
            )
            done = [e.result for e in batch.entries if e.result is not None]
            for upload in done:
                message = {"uploadId": upload.id, "state": upload.state.value}
                ctx.events_after_commit.append((upload_channel(upload.id), message))
            queued = [
                Waiting(u.id, u.version_id, u.size or u.declared_size, u.attempts)
                for u in done
                if u.state == UploadState.QUEUED
            ]
            settings = ctx.settings
            for job in plan_jobs(
                queued,
                max_bytes=settings.upload_batch_max_bytes,
                per_batch=settings.upload_batch_files,
            ):
                ctx.enqueue_after_commit(job.name, *job.args, job_id=job.job_id)
            return batch

        return await payload(info, op, CompleteUploadsPayload, _completed, scope="upload")
