"""Datasets and their versions: a draft accepts files, a published version never changes."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import admin_override, require_signed_in
from server.access.visibility import dataset_readable, dataset_visible
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, Forbidden, NotFound
from server.core.languages import UNDETERMINED
from server.core.validation import clean_text, normalize_licence
from server.datasets import coverage
from server.datasets.errors import DatasetErrorCode
from server.datasets.keywords import PendingKeywords, check_keywords, write_keywords
from server.models import (
    Dataset,
    DatasetFile,
    DatasetTheme,
    DatasetVersion,
    Institution,
    ProjectInstitution,
    ProjectMember,
    Theme,
    Upload,
)
from server.models.enums import (
    AccessLevel,
    AccountRole,
    CoverageSource,
    UploadState,
    VersionState,
)
from server.notifications.events import emit
from server.projects.service import visible_project
from server.provenance.edits import record_coverage_edit
from server.provenance.records import record_publish
from server.publishing import service as public_records
from server.texts.service import PendingText, check_text_field, write_text

OPEN_UPLOAD_STATES = (
    UploadState.AWAITING_UPLOAD,
    UploadState.UPLOADED,
    UploadState.QUEUED,
    UploadState.PROCESSING,
)


# ---- who may write -------------------------------------------------------------------


async def may_contribute(
    session: AsyncSession, principal: Principal, project_id: int, institution_id: int
) -> bool:
    """An admin; a researcher (or a program manager) who is a member of the project; an
    institution uploader acting for the owner institution (which takes part in the project).
    A program manager who is not a member steers the programme but writes no data."""
    if principal.is_admin:
        return True
    if (
        principal.has_role(AccountRole.RESEARCHER, AccountRole.PROGRAM_MANAGER)
        and principal.researcher_id is not None
    ):
        return bool(
            await session.scalar(
                select(ProjectMember.id).where(
                    ProjectMember.project_id == project_id,
                    ProjectMember.researcher_id == principal.researcher_id,
                )
            )
        )
    if principal.role == AccountRole.INSTITUTION_UPLOADER:
        return principal.institution_id == institution_id
    return False


async def require_contributor(
    session: AsyncSession, principal: Principal, dataset: Dataset
) -> None:
    require_signed_in(principal)
    if not await may_contribute(
        session, principal, dataset.project_id, dataset.owner_institution_id
    ) or not await session.scalar(
        select(Dataset.id).where(Dataset.id == dataset.id, dataset_readable(principal))
    ):
        # a contributor reads what they write to: a project member from another institution
        # does not write into an institution-level dataset
        raise Forbidden("only the project's members or its institutions' uploaders may do this")


# ---- operations ------------------------------------------------------------------------


DATASET_TEXTS = (("title", "titles", 500, True), ("description", "descriptions", 20_000, False))


def _check_metadata(
    errors: Collector,
    values: dict[str, Any],
    creating: bool,
    texts: list[PendingText],
    keywords: list[PendingKeywords],
    *,
    overridden: bool = False,
) -> dict[str, Any]:
    """The checked columns; the language-tagged writes go into `texts` and `keywords`."""
    out: dict[str, Any] = {}
    for field, plural, limit, required in DATASET_TEXTS:
        pending = check_text_field(
            errors, values, field, plural, max_len=limit, required=required, creating=creating
        )
        if pending is not None:
            out[field] = pending.column
            texts.append(pending)
    pending_keywords = check_keywords(errors, values)
    if pending_keywords is not None:
        out["keywords"] = pending_keywords.originals
        keywords.append(pending_keywords)
    if creating or "licence" in values:
        raw = values.get("licence") or ""
        licence = normalize_licence(raw) if raw.strip() else None
        if licence is None:
            errors.add(
                ErrorCode.INVALID_LICENCE, "licence must be an SPDX license expression", "licence"
            )
        out["licence"] = licence
    if creating or "access_level" in values or "embargo_until" in values:
        level = values.get("access_level") or AccessLevel.PROJECT
        until = values.get("embargo_until")
        if level == AccessLevel.EMBARGOED and until is None:
            errors.add(
                ErrorCode.REQUIRED, "an embargoed dataset needs embargoUntil", "embargoUntil"
            )
        if level != AccessLevel.EMBARGOED and until is not None:
            errors.add(
                DatasetErrorCode.INVALID_EMBARGO,
                "embargoUntil is only for embargoed datasets",
                "embargoUntil",
            )
        past = until is not None and until <= utcnow().date()
        if level == AccessLevel.EMBARGOED and past and not overridden:
            errors.add(
                DatasetErrorCode.EMBARGO_IN_PAST,
                f"embargoUntil {until} is not after today: such an embargo has ended (choose"
                " public access, or a later date); an admin may override with a reason",
                "embargoUntil",
            )
        out["access_level"], out["embargo_until"] = level, until
    return out


async def _theme_links(
    session: AsyncSession, errors: Collector, theme_ids: Sequence[int] | None
) -> list[int] | None:
    if theme_ids is None:
        return None
    wanted = sorted(set(theme_ids))
    known = set(await session.scalars(select(Theme.id).where(Theme.id.in_(wanted))))
    if missing := [t for t in wanted if t not in known]:
        errors.add(ErrorCode.NOT_FOUND, f"unknown themes: {missing}", "themeIds")
    return wanted


async def create_dataset(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    institution_id: int,
    values: dict[str, Any],
) -> Dataset:
    """A new dataset with its first (draft) version."""
    require_signed_in(principal)
    project = await visible_project(session, principal, project_id)
    if await session.get(Institution, institution_id) is None:
        raise NotFound("institution", "ownerInstitutionId")
    if not await session.scalar(
        select(ProjectInstitution.id).where(
            ProjectInstitution.project_id == project.id,
            ProjectInstitution.institution_id == institution_id,
        )
    ):
        raise DomainError.one(
            ErrorCode.NOT_PARTICIPATING,
            "the owner institution does not take part in the project",
            "ownerInstitutionId",
        )
    if not await may_contribute(session, principal, project.id, institution_id):
        raise Forbidden("only the project's members or its institutions' uploaders may do this")
    errors = Collector()
    reason = admin_override(errors, principal, values.get("override_reason"))
    texts: list[PendingText] = []
    keywords: list[PendingKeywords] = []
    fields = _check_metadata(errors, values, True, texts, keywords, overridden=reason is not None)
    themes = await _theme_links(session, errors, values.get("theme_ids") or [])
    errors.raise_if_any()
    dataset = Dataset(
        project_id=project.id,
        owner_institution_id=institution_id,
        created_by=principal.account_id,
        **fields,
    )
    session.add(dataset)
    await session.flush()
    session.add_all([DatasetTheme(dataset_id=dataset.id, theme_id=t) for t in themes or []])
    session.add(
        DatasetVersion(
            dataset_id=dataset.id,
            number=1,
            state=VersionState.DRAFT,
            created_by=principal.account_id,
        )
    )
    await session.flush()
    await _write_texts(session, dataset.id, texts, keywords)
    return dataset


async def _visible_dataset(session: AsyncSession, principal: Principal, dataset_id: int) -> Dataset:
    dataset = await session.scalar(
        select(Dataset).where(Dataset.id == dataset_id, dataset_visible(principal))
    )
    if dataset is None:
        raise NotFound("dataset", "datasetId")
    return dataset


async def update_dataset(
    session: AsyncSession, principal: Principal, dataset_id: int, values: dict[str, Any]
) -> Dataset:
    dataset = await _visible_dataset(session, principal, dataset_id)
    await require_contributor(session, principal, dataset)
    errors = Collector()
    if "access_level" in values and "embargo_until" not in values:
        values = {**values, "embargo_until": None}
    if "embargo_until" in values and "access_level" not in values:
        values = {**values, "access_level": dataset.access_level}
    reason = admin_override(errors, principal, values.get("override_reason"))
    texts: list[PendingText] = []
    keywords: list[PendingKeywords] = []
    fields = _check_metadata(errors, values, False, texts, keywords, overridden=reason is not None)
    themes = await _theme_links(session, errors, values.get("theme_ids"))
    errors.raise_if_any()
    if not fields and themes is None:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "no field to update was given")
    for key, value in fields.items():
        setattr(dataset, key, value)
    if themes is not None:
        await session.execute(delete(DatasetTheme).where(DatasetTheme.dataset_id == dataset.id))
        session.add_all([DatasetTheme(dataset_id=dataset.id, theme_id=t) for t in themes])
    dataset.updated_at = utcnow()
    await session.flush()
    await _write_texts(session, dataset.id, texts, keywords)
    await public_records.refresh(session, [dataset.id], changed=True)
    return dataset


async def _write_texts(
    session: AsyncSession,
    dataset_id: int,
    texts: list[PendingText],
    keywords: list[PendingKeywords],
) -> None:
    for pending in texts:
        await write_text(session, "dataset", dataset_id, pending, UNDETERMINED)
    for words in keywords:  # after the title: plain keywords take its language
        await write_keywords(session, dataset_id, words)


async def visible_version(
    session: AsyncSession, principal: Principal, version_id: int, field: str = "versionId"
) -> tuple[DatasetVersion, Dataset]:
    row = (
        await session.execute(
            select(DatasetVersion, Dataset)
            .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
            .where(DatasetVersion.id == version_id, dataset_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound("dataset version", field)
    return row[0], row[1]


def require_draft(version: DatasetVersion, field: str = "versionId") -> None:
    if version.state != VersionState.DRAFT:
        raise DomainError.one(
            DatasetErrorCode.VERSION_PUBLISHED,
            f"version {version.number} is published and can no longer change; start a new draft",
            field,
        )


async def publish_version(
    session: AsyncSession, principal: Principal, version_id: int, note: str | None = None
) -> DatasetVersion:
    """Freeze a draft for ever: no file can be added, changed or removed afterwards."""
    version, dataset = await visible_version(session, principal, version_id)
    await require_contributor(session, principal, dataset)
    require_draft(version)
    errors = Collector()
    clean_note = clean_text(errors, "note", note, max_len=5000)
    pending = await session.scalar(
        select(func.count(Upload.id)).where(
            Upload.version_id == version.id, Upload.state.in_(OPEN_UPLOAD_STATES)
        )
    )
    if pending:
        errors.add(
            DatasetErrorCode.UPLOADS_PENDING,
            f"{pending} upload(s) are not finished yet",
            "versionId",
        )
    files = await session.scalar(
        select(func.count(DatasetFile.id)).where(DatasetFile.version_id == version.id)
    )
    if not files:
        errors.add(
            DatasetErrorCode.EMPTY_VERSION,
            "a version needs at least one file to be published",
            "versionId",
        )
    errors.raise_if_any()
    version.state = VersionState.PUBLISHED
    version.published_at = utcnow()
    version.published_by = principal.account_id
    if clean_note is not None:
        version.note = clean_note
    await session.flush()
    await record_publish(session, principal, version, dataset)
    await public_records.refresh(session, [dataset.id])
    emit(
        session,
        "version.published",
        project_id=dataset.project_id,
        institution_id=dataset.owner_institution_id,
        dataset_id=dataset.id,
        payload={"versionId": version.id, "number": version.number, "note": version.note},
    )
    return version


async def start_draft(
    session: AsyncSession, principal: Principal, dataset_id: int
) -> DatasetVersion:
    """A new draft with the files of the latest published version (their bytes are shared)."""
    dataset = await _visible_dataset(session, principal, dataset_id)
    await require_contributor(session, principal, dataset)
    latest = await session.scalar(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.number.desc())
        .limit(1)
    )
    if latest is not None and latest.state == VersionState.DRAFT:
        raise DomainError.one(
            DatasetErrorCode.DRAFT_EXISTS, f"version {latest.number} is still a draft", "datasetId"
        )
    draft = DatasetVersion(
        dataset_id=dataset.id,
        number=(latest.number + 1) if latest else 1,
        state=VersionState.DRAFT,
        based_on_id=latest.id if latest else None,
        created_by=principal.account_id,
    )
    session.add(draft)
    await session.flush()
    if latest is not None:
        carried = (
            await session.scalars(select(DatasetFile).where(DatasetFile.version_id == latest.id))
        ).all()
        session.add_all(
            [
                DatasetFile(
                    version_id=draft.id,
                    upload_id=f.upload_id,
                    name=f.name,
                    path=f.path,
                    path_key=f.path_key,
                    size=f.size,
                    sha256=f.sha256,
                    media_type=f.media_type,
                    format=f.format,
                    raw_key=f.raw_key,
                    profile=f.profile,
                    fixity_checked_at=f.fixity_checked_at,
                    fixity_outcome=f.fixity_outcome,
                    west=f.west,
                    south=f.south,
                    east=f.east,
                    north=f.north,
                    time_start=f.time_start,
                    time_end=f.time_end,
                )
                for f in carried
            ]
        )
        await session.flush()
        coverage.carry_corrections(latest, draft)
    await coverage.refresh_version(session, draft)
    return draft


async def remove_file(session: AsyncSession, principal: Principal, file_id: int) -> DatasetVersion:
    """Take a file out of a draft (published versions refuse)."""
    row = await session.get(DatasetFile, file_id)
    if row is None:
        raise NotFound("file", "fileId")
    version, dataset = await visible_version(session, principal, row.version_id, "fileId")
    await require_contributor(session, principal, dataset)
    require_draft(version, "fileId")
    await session.delete(row)
    await session.flush()
    await coverage.refresh_version(session, version)
    return version


class Keep(enum.Enum):
    """A coverage part the edit leaves as it is."""

    KEEP = "keep"


KEEP = Keep.KEEP
BoxGiven = tuple[float, float, float, float] | None | Keep  # (west, south, east, north)
PeriodGiven = tuple[Any, Any] | None | Keep  # (start, end)


async def set_coverage(
    session: AsyncSession,
    principal: Principal,
    *,
    dataset_id: int | None = None,
    version_id: int | None = None,
    bbox: BoxGiven = KEEP,
    period: PeriodGiven = KEEP,
) -> Dataset | DatasetVersion:
    """A person sets (or, with None, gives back to the data) a dataset's or a draft
    version's bbox and period; the edit is recorded in the provenance."""
    version: DatasetVersion | None = None
    if version_id is not None:
        version, dataset = await visible_version(session, principal, version_id, "id")
    else:
        dataset = await _visible_dataset(session, principal, dataset_id or 0)
    await require_contributor(session, principal, dataset)
    if version is not None:
        require_draft(version, "id")
    errors = Collector()
    box = coverage.check_box(errors, "bbox", *bbox) if isinstance(bbox, tuple) else None
    when = coverage.check_period(errors, "period", *period) if isinstance(period, tuple) else None
    errors.raise_if_any()
    if bbox is KEEP and period is KEEP:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "give a bbox or a period", None)
    row: Dataset | DatasetVersion = version if version is not None else dataset
    change: dict[str, Any] = {}
    if bbox is not KEEP:
        coverage.put_box(row, box)
        row.bbox_source = CoverageSource.PERSON if box else None
        change["bbox"] = [box.west, box.south, box.east, box.north] if box else None
    if period is not KEEP:
        coverage.put_period(row, when)
        row.time_source = CoverageSource.PERSON if when else None
        change["period"] = [str(when.start), str(when.end)] if when else None
    row.coverage_edited_by, row.coverage_edited_at = principal.actor, utcnow()
    await session.flush()
    # a part given back to the data is the union again; the dataset follows its versions
    if version is not None:
        await coverage.refresh_version(session, version)
    else:
        await coverage.refresh_dataset(session, dataset.id)
    await record_coverage_edit(session, principal, dataset, version, change)
    return row
