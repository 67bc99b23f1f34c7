"""Browsing a version's files as folders: `DatasetVersion.directories(prefix)`, the folders
right under a prefix (server/datasets/folders.py). Answered by strawberry (the compiled
path leaves a root field that reads it to strawberry)."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.compiled.mapping import compiled
from schema.context import Info
from schema.errors import read
from schema.scalars import Long
from server.datasets import folders


@strawberry.type(description="A folder of a version's files")
class Directory:
    name: str
    path: str = strawberry.field(description="With its trailing slash (raw/2024/)")
    file_count: int = strawberry.field(description="Files anywhere below it")
    byte_size: Long = strawberry.field(description="Their bytes")


@compiled(partial=True, python=("directories",))
@strawberry.type
class VersionFolderFields:
    """Fields this module adds to DatasetVersion (a mixin)."""

    @strawberry.field(
        description="The folders right under `prefix` (the top when empty), each with the"
        " files below it counted, by name"
    )
    async def directories(self, info: Info, prefix: str | None = None) -> list[Directory]:
        version_id: int = self.id  # type: ignore[attr-defined]

        async def op(session: AsyncSession) -> list[folders.Folder]:
            return await folders.folders(session, version_id, prefix)

        return [
            Directory(
                name=f.name, path=f.path, file_count=f.file_count, byte_size=Long(f.byte_size)
            )
            for f in await read(info, op)
        ]
