"""Datasets, written: createDataset, updateDataset, publishDatasetVersion, startDatasetDraft,
removeDatasetFile (all with the upload scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.datasets.coverage import SetCoverageInput, set_coverage_op
from schema.datasets.types import (
    CreateDatasetInput,
    Dataset,
    DatasetPayload,
    DatasetVersion,
    DatasetVersionPayload,
    SetCoveragePayload,
    UpdateDatasetInput,
)
from schema.errors import fields_named
from schema.inputs import given
from schema.payloads import payload
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.core.jobs import WRITE_PROVENANCE
from server.datasets import service

DATASET_FIELDS = (
    "title",
    "description",
    "keywords",
    "licence",
    "access_level",
    "embargo_until",
    "override_reason",
)


async def _dataset_payload(
    info: Info, op: Callable[[AsyncSession, Principal], Awaitable[models.Dataset]]
) -> DatasetPayload:
    def done(row: models.Dataset) -> DatasetPayload:
        return DatasetPayload(dataset=Dataset.from_row(row))

    return await payload(info, op, DatasetPayload, done, scope="upload")


async def _version_payload(
    info: Info, op: Callable[[AsyncSession, Principal], Awaitable[models.DatasetVersion]]
) -> DatasetVersionPayload:
    def done(row: models.DatasetVersion) -> DatasetVersionPayload:
        return DatasetVersionPayload(version=DatasetVersion.from_row(row))

    return await payload(info, op, DatasetVersionPayload, done, scope="upload")


def _values(input: CreateDatasetInput | UpdateDatasetInput) -> dict[str, Any]:
    """The fields sent, the language-tagged ones as the service takes them (on creation a
    null title or list is not sent)."""
    values = given(input, *DATASET_FIELDS)
    for name, items in given(input, "titles", "descriptions", "keyword_texts").items():
        values[name] = text_values(items)
    if isinstance(input, CreateDatasetInput):
        unsent = ("title", "titles", "descriptions", "keyword_texts")
        values = {k: v for k, v in values.items() if v is not None or k not in unsent}
        if "keyword_texts" in values and not values["keywords"]:
            del values["keywords"]  # the default [], not sent
    return values


def _theme_ids(ids: list[strawberry.ID] | None) -> list[int]:
    return [decode_id(gid, "Theme", "themeIds") for gid in ids or []]


@strawberry.type
class DatasetMutations:
    @strawberry.mutation(description="A new dataset, with version 1 open as a draft")
    async def create_dataset(self, info: Info, input: CreateDatasetInput) -> DatasetPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Dataset:
            values = _values(input)
            values["theme_ids"] = _theme_ids(input.theme_ids)
            return await service.create_dataset(
                session,
                principal,
                decode_id(input.project_id, "Project", "projectId"),
                decode_id(input.owner_institution_id, "Institution", "ownerInstitutionId"),
                values,
            )

        return await _dataset_payload(info, op)

    @strawberry.mutation
    async def update_dataset(self, info: Info, input: UpdateDatasetInput) -> DatasetPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Dataset:
            values = _values(input)
            if input.theme_ids is not strawberry.UNSET:
                values["theme_ids"] = _theme_ids(input.theme_ids)
            dataset_id = decode_id(input.id, "Dataset", "id")
            with fields_named(datasetId="id"):
                return await service.update_dataset(session, principal, dataset_id, values)

        return await _dataset_payload(info, op)

    @strawberry.mutation(description="Freeze a draft for ever; a new draft starts from it")
    async def publish_dataset_version(
        self, info: Info, version_id: strawberry.ID, note: str | None = None
    ) -> DatasetVersionPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.DatasetVersion:
            vid = decode_id(version_id, "DatasetVersion", "versionId")
            version = await service.publish_version(session, principal, vid, note)
            # once committed: the PROV and RO-Crate copies beside the data
            job = f"{WRITE_PROVENANCE}:{vid}:published"
            info.context.enqueue_after_commit(WRITE_PROVENANCE, vid, job_id=job)
            return version

        return await _version_payload(info, op)

    @strawberry.mutation(description="Open the next version as a draft with the latest files")
    async def start_dataset_draft(
        self, info: Info, dataset_id: strawberry.ID
    ) -> DatasetVersionPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.DatasetVersion:
            did = decode_id(dataset_id, "Dataset", "datasetId")
            return await service.start_draft(session, principal, did)

        return await _version_payload(info, op)

    @strawberry.mutation(description="Take a file out of a draft version")
    async def remove_dataset_file(
        self, info: Info, file_id: strawberry.ID
    ) -> DatasetVersionPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.DatasetVersion:
            fid = decode_id(file_id, "DatasetFile", "fileId")
            return await service.remove_file(session, principal, fid)

        return await _version_payload(info, op)

    @strawberry.mutation(
        description="Set or correct the coverage of a dataset or of a draft version (audited,"
        " recorded in the provenance); a part given as null goes back to the data's union"
    )
    async def set_coverage(self, info: Info, input: SetCoverageInput) -> SetCoveragePayload:
        async def op(
            session: AsyncSession, principal: Principal
        ) -> models.Dataset | models.DatasetVersion:
            return await set_coverage_op(session, principal, input)

        def done(row: models.Dataset | models.DatasetVersion) -> SetCoveragePayload:
            if isinstance(row, models.Dataset):
                return SetCoveragePayload(dataset=Dataset.from_row(row))
            return SetCoveragePayload(version=DatasetVersion.from_row(row))

        return await payload(info, op, SetCoveragePayload, done, scope="upload")
