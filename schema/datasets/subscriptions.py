"""Uploads, followed: uploadStatus over graphql-transport-ws."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from schema.connections import decode_id
from schema.context import Info
from schema.datasets.types import Upload
from schema.errors import PublicError
from server import models
from server.core.errors import DomainError, ErrorCode
from server.core.events import CATCH_UP_SECONDS, RECHECK_SECONDS, or_every, upload_channel
from server.datasets import queries as reads
from server.datasets.upload_states import FINAL, passed_through
from server.models.enums import UploadState


@strawberry.type
class UploadSubscriptions:
    @strawberry.subscription(
        description="The upload now, then each change until it is READY, FAILED, REJECTED"
        " or ABORTED (graphql-transport-ws; authenticate in connection_init)"
    )
    async def upload_status(
        self, info: Info, upload_id: strawberry.ID
    ) -> AsyncGenerator[Upload, None]:
        ctx = info.context
        try:
            uid = decode_id(upload_id, "DatasetUpload", "uploadId")
        except DomainError as error:
            raise PublicError(error) from error

        async def current() -> models.Upload:
            async with ctx.sessions() as session:
                found = await reads.uploads_by_id(session, ctx.principal, [uid])
            if uid not in found:
                raise PublicError(
                    DomainError.one(ErrorCode.NOT_FOUND, "upload not found", "uploadId")
                )
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


def _as_of(row: models.Upload, state: UploadState) -> Upload:
    """The upload as it was in `state`, a state it has since left (never a final one)."""
    return dataclasses.replace(
        Upload.from_row(row), state=state, finished_at=None, error_code=None, error_message=None
    )


def _announced_state(message: dict[str, Any] | None) -> UploadState | None:
    try:
        return UploadState(message["state"]) if message else None
    except (KeyError, ValueError):
        return None
