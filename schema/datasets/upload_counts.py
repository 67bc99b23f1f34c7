"""`DatasetVersion.uploadCounts`: how many of a version's uploads are in each state, what a
client waiting for a folder of thousands of files polls instead of listing every upload
(server/datasets/queries.py: `upload_counts`). Answered by strawberry (the compiled path
leaves it to strawberry's resolver). The `UploadState` enum lives here, for this module and
schema/datasets/types.py both."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.compiled.mapping import compiled
from schema.context import Info
from schema.errors import read
from server.datasets import queries
from server.models.enums import UploadState as UploadStateEnum

UploadState = strawberry.enum(
    UploadStateEnum,
    name="UploadState",
    description="AWAITING_UPLOAD -> UPLOADED -> QUEUED -> PROCESSING -> READY | FAILED |"
    " REJECTED | QUARANTINED (ClamAV found malware); ABORTED when the uploader gives up",
)


@strawberry.type(description="How many of a version's uploads are in one state")
class UploadStateCount:
    state: UploadState  # type: ignore[valid-type]
    count: int


@compiled(partial=True, python=("upload_counts",))
@strawberry.type
class VersionUploadCountFields:
    """Fields this module adds to DatasetVersion (a mixin)."""

    @strawberry.field(
        description="How many of the version's uploads are in each state (the states with"
        " any, in the order of the upload's life): one small answer to poll while a folder"
        " is processed, where `uploads` lists every upload"
    )
    async def upload_counts(self, info: Info) -> list[UploadStateCount]:
        version_id: int = self.id  # type: ignore[attr-defined]

        async def op(session: AsyncSession) -> list[tuple[UploadStateEnum, int]]:
            return await queries.upload_counts(session, version_id)

        return [UploadStateCount(state=s, count=n) for s, n in await read(info, op)]
