"""Datasets, versions, files and uploads: the GraphQL types, inputs and payloads."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Any, cast

import strawberry
from sqlalchemy import true
from strawberry import relay
from strawberry.scalars import JSON

from schema.access_requests.types import DatasetAccessFields
from schema.compiled.compiler import (
    column,
    dataset_project,
    dataset_themes,
    dataset_versions,
    file_artifacts,
    file_profile,
    institution_of,
    newest_version,
    project_datasets,
    upload_part_count,
    upload_part_size,
    upload_warnings,
    version_dataset,
    version_uploads,
)
from schema.compiled.mapping import compiled
from schema.compiled.roots import version_files
from schema.connections import Connection, connection, load_nodes, project_node
from schema.context import Info
from schema.datasets.coverage import BoundingBoxInput, CoverageFields, coverage_columns
from schema.datasets.fixity import VersionFixityFields
from schema.datasets.folders import VersionFolderFields
from schema.datasets.texts import DatasetTextFields, DatasetTextInputs
from schema.datasets.upload_counts import UploadState, VersionUploadCountFields
from schema.errors import PublicError, UserError, error_codes
from schema.institutions import Institution
from schema.loaders import present
from schema.provenance import VersionProvenanceFields
from schema.publishing import DatasetPidFields, VersionCitationFields, VersionPidFields
from schema.rows import FromRow
from schema.scalars import Long
from schema.themes import Theme
from server import models
from server.access.visibility import readable_file_ids
from server.core.errors import DomainError
from server.datasets import errors as codes
from server.datasets import folders
from server.datasets import queries as reads
from server.datasets import uploads as uploads_service
from server.datasets.downloads import issue_download
from server.models.enums import AccessLevel as AccessLevelEnum
from server.models.enums import UploadWarningCode as UploadWarningCodeEnum
from server.models.enums import VersionState as VersionStateEnum

if TYPE_CHECKING:
    from schema.projects import Project


DatasetErrorCode = error_codes("DatasetErrorCode", codes.DatasetErrorCode)


@strawberry.type(description="An expected failure of a dataset, version or upload mutation.")
class DatasetError(UserError):
    code: DatasetErrorCode  # type: ignore[valid-type]


PREVIEW_MAX = 4 * 1024 * 1024
AccessLevel = strawberry.enum(AccessLevelEnum, name="AccessLevel")
VersionState = strawberry.enum(VersionStateEnum, name="VersionState")


@compiled(size=column("size"))
@strawberry.type(description="Something derived from a file, with its digest.")
class Artifact:
    kind: str = strawberry.field(
        description="parquet (normalised table), preview, profile; parquet.<i> and preview.<i>"
        " for a workbook's further sheets or a vector file's further layers (GeoParquet);"
        " geoparquet (the layer as GeoParquet 1.1) for a GeoJSON file, beside its table;"
        " quicklook (PNG) for a raster; thumbnail (PNG, at most 256 px) for an image"
    )
    size: Long
    sha256: str
    media_type: str | None


@strawberry.type(description="Where to download a file from, until when")
class DownloadUrl:
    url: str
    expires_at: dt.datetime


@compiled(
    python=("download_url", "preview"),
    size=column("size"),
    profile=file_profile,
    artifacts=file_artifacts,
)
@strawberry.type(description="A file of a dataset version, with its digest.")
class DatasetFile(CoverageFields, relay.Node):
    id: relay.NodeID[int]
    name: str = strawberry.field(description="The path's last segment")
    path: str = strawberry.field(
        description="Inside the version, folders separated by / (raw/2024/station-07/log.csv)"
    )
    size: Long
    sha256: str
    media_type: str | None
    format: str | None
    created_at: dt.datetime
    profile_data: strawberry.Private[dict[str, Any] | None]

    async def _readable(self, info: Info) -> bool:
        """May the caller read this file's data (not only its metadata)?"""
        return bool(await info.context.loaders.one_visible(readable_file_ids).load(self.id))

    @strawberry.field(
        description="For tables: rows and, per column, type, nulls, min, max, mean, distinct;"
        " for workbooks, gridded data, rasters and vectors: see the README (kind, coverage)."
        " Null when you may see the file but not read its data"
    )
    async def profile(self, info: Info) -> JSON | None:
        if not await self._readable(info):
            return None
        return cast(JSON | None, self.profile_data)

    @strawberry.field(
        description="A URL to fetch the file's bytes, valid for a few minutes; only for callers"
        " who may read the data (FORBIDDEN otherwise). Every URL issued is audited."
    )
    async def download_url(self, info: Info) -> DownloadUrl:
        ctx = info.context
        lifetime = dt.timedelta(minutes=ctx.settings.download_url_minutes)
        async with ctx.db() as session:
            try:
                ticket = await issue_download(
                    session,
                    ctx.principal,
                    ctx.store,
                    ctx.signer,
                    self.id,
                    lifetime=lifetime,
                    client=ctx.client,
                )
            except DomainError as error:
                await session.commit()  # the refusal stays on record
                raise PublicError(error) from error
            await session.commit()
        return DownloadUrl(url=ticket.url, expires_at=ticket.expires_at)

    @strawberry.field
    async def artifacts(self, info: Info) -> list[Artifact]:
        rows = await info.context.loaders.many(reads.artifacts_by_file).load(self.id)
        return [
            Artifact(kind=a.kind, size=Long(a.size), sha256=a.sha256, media_type=a.media_type)
            for a in rows
        ]

    @strawberry.field(
        description="For tables: the first 100 rows (null when you may not read the data)"
    )
    async def preview(self, info: Info) -> JSON | None:
        if not await self._readable(info):
            return None
        rows = await info.context.loaders.many(reads.artifacts_by_file).load(self.id)
        found = [a for a in rows if a.kind == "preview"]
        if not found:
            return None
        store = info.context.store
        body = await store.get_bytes(found[0].bucket, found[0].key, max_size=PREVIEW_MAX)
        return json.loads(body)

    @classmethod
    def from_row(cls, row: models.DatasetFile) -> DatasetFile:
        return cls(
            id=row.id,
            name=row.name,
            path=row.path,
            size=Long(row.size),
            sha256=row.sha256,
            media_type=row.media_type,
            format=row.format,
            created_at=row.created_at,
            profile_data=row.profile,
            **coverage_columns(row),
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[DatasetFile | None]:
        loader = info.context.loaders.one_visible(reads.files_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@strawberry.type
class ReceivedPart:
    part_number: int
    size: Long
    etag: str


UploadWarningCode = strawberry.enum(
    UploadWarningCodeEnum,
    name="UploadWarningCode",
    description="What processing noticed in a file it still accepted",
)


@compiled()
@strawberry.type(description="Something processing noticed in a file it still accepted.")
class UploadWarning:
    code: UploadWarningCode  # type: ignore[valid-type]
    message: str


@compiled(
    python=("parts_received",),
    declared_size=column("declared_size"),
    size=column("size"),
    part_size=upload_part_size,
    part_count=upload_part_count,
    warnings=upload_warnings,
)
@strawberry.type(name="DatasetUpload", description="One file on its way into a draft version.")
class Upload(relay.Node):
    id: relay.NodeID[int]
    filename: str = strawberry.field(description="The path's last segment")
    path: str = strawberry.field(description="Where the file goes inside the version")
    state: UploadState  # type: ignore[valid-type]
    declared_size: Long
    declared_sha256: str | None
    content_type: str | None
    attempts: int
    error_code: str | None = strawberry.field(
        description="Stable code when FAILED/REJECTED/QUARANTINED"
    )
    error_message: str | None
    malware_signature: str | None = strawberry.field(
        description="The signature ClamAV found when QUARANTINED"
    )
    size: Long | None
    sha256: str | None
    detected_format: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    part_size: Long | None = strawberry.field(description="Multipart uploads only")
    row: strawberry.Private[models.Upload]

    @strawberry.field(description="Multipart uploads: how many parts the file is cut into")
    def part_count(self) -> int | None:
        return uploads_service.part_count(self.row) if self.row.multipart_id else None

    @strawberry.field(
        description="What processing noticed in the file (ragged rows, undecodable text, a"
        " sheet skipped, a variable without units, ...), in the order noticed"
    )
    async def warnings(self, info: Info) -> list[UploadWarning]:
        rows = await info.context.loaders.many(reads.warnings_by_upload).load(self.id)
        return [UploadWarning(code=w.code, message=w.message) for w in rows]

    @strawberry.field(
        description="Parts the object store has received so far (resume: send the others)"
    )
    async def parts_received(self, info: Info) -> list[ReceivedPart]:
        parts = await uploads_service.parts_received(info.context.store, self.row)
        return [
            ReceivedPart(part_number=p.part_number, size=Long(p.size), etag=p.etag) for p in parts
        ]

    @classmethod
    def from_row(cls, row: models.Upload) -> Upload:
        return cls(
            id=row.id,
            filename=row.filename,
            path=row.path,
            state=row.state,
            declared_size=Long(row.declared_size),
            declared_sha256=row.declared_sha256,
            content_type=row.content_type,
            attempts=row.attempts,
            error_code=row.error_code,
            error_message=row.error_message,
            malware_signature=row.malware_signature,
            size=Long(row.size) if row.size is not None else None,
            sha256=row.sha256,
            detected_format=row.detected_format,
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
            part_size=Long(row.part_size) if row.part_size else None,
            row=row,
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Upload | None]:
        loader = info.context.loaders.one_visible(reads.uploads_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@compiled(files=version_files, uploads=version_uploads, dataset=version_dataset)
@strawberry.type(description="Version n of a dataset; published versions never change.")
class DatasetVersion(
    VersionProvenanceFields,
    VersionCitationFields,
    VersionPidFields,
    VersionFixityFields,
    VersionFolderFields,
    VersionUploadCountFields,
    CoverageFields,
    relay.Node,
    FromRow,
):
    id: relay.NodeID[int]
    number: int
    state: VersionState  # type: ignore[valid-type]
    note: str | None
    created_at: dt.datetime
    published_at: dt.datetime | None
    dataset_id: strawberry.Private[int]

    @strawberry.field(
        description="The version's files in the order they were added (keyset pages of at"
        " most 1,000): those whose path starts with `prefix` (end it with / for a folder),"
        " of `format` (csv, netcdf, ...) when given"
    )
    async def files(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        prefix: str | None = None,
        format: str | None = None,
    ) -> Connection[DatasetFile]:
        page = folders.FilePage(first, after, prefix, format)
        try:
            page.size(), page.after_key()
        except DomainError as error:
            raise PublicError(error) from error
        found = await info.context.loaders.one(folders.file_pages).load((self.id, page))
        return connection(present(found), DatasetFile.from_row)

    @strawberry.field
    async def uploads(self, info: Info) -> list[Upload]:
        rows = await info.context.loaders.many(reads.uploads_by_version).load(self.id)
        return [Upload.from_row(r) for r in rows]

    @strawberry.field
    async def dataset(self, info: Info) -> Dataset | None:
        row = await info.context.loaders.one_visible(reads.datasets_by_id).load(self.dataset_id)
        return Dataset.from_row(row) if row is not None else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[DatasetVersion | None]:
        loader = info.context.loaders.one_visible(reads.versions_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@compiled(
    project=dataset_project,
    partner_country_data=lambda c, row, details, args: c.json.boolean(
        row.partner_country_data == true()
    ),
    owner_institution=institution_of("owner_institution_id"),
    themes=dataset_themes,
    versions=dataset_versions,
    latest_version=newest_version(VersionState.PUBLISHED),
    draft=newest_version(VersionState.DRAFT),
)
@strawberry.type(description="Research data of a project, owned by an institution.")
class Dataset(DatasetTextFields, CoverageFields, DatasetAccessFields, DatasetPidFields, relay.Node):
    id: relay.NodeID[int]
    title: strawberry.Private[str]  # the originals (the columns)
    description: strawberry.Private[str | None]
    keywords: strawberry.Private[list[str]]  # the original keywords (the column)
    licence: str = strawberry.field(description="SPDX license expression")
    access_level: AccessLevel  # type: ignore[valid-type]
    embargo_until: dt.date | None
    partner_country_data: bool = strawberry.field(
        description="Partner-country data under a bilateral agreement: access requests need"
        " the Japanese and the partner lead's approval"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    project_id: strawberry.Private[int]
    owner_institution_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: models.Dataset) -> Dataset:
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            keywords=list(row.keywords or []),
            licence=row.licence,
            access_level=row.access_level,
            embargo_until=row.embargo_until,
            partner_country_data=row.partner_country_data,
            created_at=row.created_at,
            updated_at=row.updated_at,
            project_id=row.project_id,
            owner_institution_id=row.owner_institution_id,
            **coverage_columns(row),
        )

    @strawberry.field
    async def project(
        self, info: Info
    ) -> Annotated[Project, strawberry.lazy("schema.projects")] | None:
        return await project_node(info, self.project_id)

    @strawberry.field
    async def owner_institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.owner_institution_id)
        return Institution.from_row(present(row))

    @strawberry.field
    async def themes(self, info: Info) -> list[Theme]:
        rows = await info.context.loaders.many(reads.themes_by_dataset).load(self.id)
        return [Theme.from_row(r) for r in rows]

    @strawberry.field(description="Oldest first")
    async def versions(self, info: Info) -> list[DatasetVersion]:
        rows = await info.context.loaders.many(reads.versions_by_dataset).load(self.id)
        return [DatasetVersion.from_row(r) for r in rows]

    @strawberry.field(description="The newest published version, if any")
    async def latest_version(self, info: Info) -> DatasetVersion | None:
        rows = await info.context.loaders.many(reads.versions_by_dataset).load(self.id)
        published = [r for r in rows if r.state == VersionStateEnum.PUBLISHED]
        return DatasetVersion.from_row(published[-1]) if published else None

    @strawberry.field(description="The open draft, if any")
    async def draft(self, info: Info) -> DatasetVersion | None:
        rows = await info.context.loaders.many(reads.versions_by_dataset).load(self.id)
        drafts = [r for r in rows if r.state == VersionStateEnum.DRAFT]
        return DatasetVersion.from_row(drafts[-1]) if drafts else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Dataset | None]:
        loader = info.context.loaders.one_visible(reads.datasets_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@compiled(partial=True, datasets=project_datasets)
@strawberry.type
class ProjectDatasetFields:
    """Fields this package adds to the Project type (a mixin of schema.projects.Project)."""

    @strawberry.field(description="The project's datasets that you may see")
    async def datasets(self, info: Info) -> list[Dataset]:
        project_id = self.id  # type: ignore[attr-defined]
        rows = await info.context.loaders.many_visible(reads.datasets_by_project).load(project_id)
        return [Dataset.from_row(r) for r in rows]


@strawberry.input
class DatasetFilter:
    project_id: strawberry.ID | None = None
    institution_id: strawberry.ID | None = None
    theme_id: strawberry.ID | None = None
    country: str | None = strawberry.field(default=None, description="A partner country")
    access_level: AccessLevel | None = None  # type: ignore[valid-type]
    intersects: BoundingBoxInput | None = strawberry.field(
        default=None,
        description="Datasets whose coverage box meets this box (edges count; west > east"
        " crosses the antimeridian); datasets without a box are left out",
    )
    time_from: dt.datetime | None = strawberry.field(
        default=None,
        description="Datasets whose period reaches this instant or later; datasets without a"
        " period are left out",
    )
    time_to: dt.datetime | None = strawberry.field(
        default=None, description="Datasets whose period starts at this instant or earlier"
    )


@strawberry.input
class CreateDatasetInput(DatasetTextInputs):
    project_id: strawberry.ID
    owner_institution_id: strawberry.ID
    title: str | None = strawberry.field(default=None, description="Or give `titles`")
    licence: str = strawberry.field(description="SPDX license expression, e.g. CC-BY-4.0")
    access_level: AccessLevel = AccessLevelEnum.PROJECT  # type: ignore[valid-type]
    embargo_until: dt.date | None = None
    description: str | None = None
    keywords: list[str] = strawberry.field(
        default_factory=list,
        description="Plain keywords (as before `keywordTexts`): the originals, in the language"
        " of the dataset's title's original (`und` when unknown)",
    )
    theme_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    override_reason: str | None = strawberry.field(
        default=None,
        description="Admins only: why a date the rules refuse is set all the same (an"
        " embargo that has already ended); kept in the audit log",
    )


@strawberry.input
class UpdateDatasetInput(DatasetTextInputs):
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    keywords: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Plain keywords (as before `keywordTexts`): they replace the originals, in"
        " their language (else the dataset's title's original's, else `und`); translations stay",
    )
    licence: str | None = strawberry.UNSET
    access_level: AccessLevel | None = strawberry.UNSET  # type: ignore[valid-type]
    embargo_until: dt.date | None = strawberry.UNSET
    theme_ids: list[strawberry.ID] | None = strawberry.UNSET
    override_reason: str | None = strawberry.field(
        default=None,
        description="Admins only: why a date the rules refuse is set all the same (an"
        " embargo that has already ended); kept in the audit log",
    )


@strawberry.type
class DatasetPayload:
    dataset: Dataset | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type
class DatasetVersionPayload:
    version: DatasetVersion | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type(description="The dataset or the version whose coverage was set")
class SetCoveragePayload:
    dataset: Dataset | None = None
    version: DatasetVersion | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type
class AccessLevelCount:
    access_level: AccessLevel  # type: ignore[valid-type]
    count: int


@strawberry.type(description="Counts of the datasets you may see")
class DatasetStats:
    total: int
    by_access_level: list[AccessLevelCount]


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
    errors: list[DatasetError] = strawberry.field(default_factory=list)


@strawberry.type
class UploadPayload:
    upload: Upload | None = None
    errors: list[DatasetError] = strawberry.field(default_factory=list)
