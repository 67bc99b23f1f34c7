"""Datasets and uploads, read: datasetStats, datasets, upload(id)."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import Connection, connection, decode_id, page_args
from schema.context import Info
from schema.datasets.types import (
    AccessLevelCount,
    Dataset,
    DatasetFilter,
    DatasetStats,
    Upload,
)
from schema.errors import PublicError, read
from server import models
from server.core.errors import DomainError
from server.core.pagination import Page, paginate
from server.datasets import queries as reads
from server.models.enums import AccessLevel as AccessLevelEnum


def _dataset_filter(filter: DatasetFilter | None) -> reads.DatasetFilter | None:
    if filter is None:
        return None
    box = filter.intersects
    flt = reads.DatasetFilter(
        country=filter.country,
        access_level=filter.access_level,
        intersects=(box.west, box.south, box.east, box.north) if box else None,
        time_from=filter.time_from,
        time_to=filter.time_to,
    )
    if filter.project_id is not None:
        flt.project_id = decode_id(filter.project_id, "Project", "filter.projectId")
    if filter.institution_id is not None:
        flt.institution_id = decode_id(filter.institution_id, "Institution", "filter.institutionId")
    if filter.theme_id is not None:
        flt.theme_id = decode_id(filter.theme_id, "Theme", "filter.themeId")
    return flt


@strawberry.type
class DatasetQueries:
    @strawberry.field(description="How many datasets you may see, per access level")
    async def dataset_stats(
        self, info: Info, filter: DatasetFilter | None = None
    ) -> DatasetStats | None:
        principal = info.context.principal

        async def op(session: AsyncSession) -> dict[AccessLevelEnum, int]:
            return await reads.dataset_counts(session, principal, _dataset_filter(filter))

        counts = await read(info, op)
        return DatasetStats(
            total=sum(counts.values()),
            by_access_level=[
                AccessLevelCount(access_level=level, count=counts.get(level, 0))
                for level in AccessLevelEnum
            ],
        )

    @strawberry.field(description="Datasets you may see")
    async def datasets(
        self,
        info: Info,
        filter: DatasetFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Dataset] | None:
        principal = info.context.principal

        async def op(session: AsyncSession) -> Page[models.Dataset]:
            flt = _dataset_filter(filter)
            stmt = await reads.datasets_query(session, principal, flt)
            return await paginate(
                session, stmt, models.Dataset.id, page_args(first, after, last, before)
            )

        return connection(await read(info, op), Dataset.from_row)


@strawberry.type
class UploadQueries:
    @strawberry.field(description="An upload you may see, by its id")
    async def upload(self, info: Info, id: strawberry.ID) -> Upload | None:
        try:
            upload_id = decode_id(id, "DatasetUpload", "id")
        except DomainError as error:
            raise PublicError(error) from error
        row = await info.context.loaders.one_visible(reads.uploads_by_id).load(upload_id)
        return Upload.from_row(row) if row is not None else None
