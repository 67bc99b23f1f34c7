"""Datasets, their immutable versions, uploads and the files they become."""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    not_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, str_enum, utcnow_column
from server.models.enums import (
    AccessLevel,
    CoverageSource,
    FixityOutcome,
    UploadState,
    UploadWarningCode,
    VersionState,
)

# a box's south edge is not above its north edge; a period does not end before it starts
COVERAGE_CHECKS = (
    ("coverage_latitudes", "south IS NULL OR north IS NULL OR south <= north"),
    ("coverage_period", "time_start IS NULL OR time_end IS NULL OR time_start <= time_end"),
)


def coverage_checks() -> tuple[CheckConstraint, ...]:
    return tuple(CheckConstraint(rule, name) for name, rule in COVERAGE_CHECKS)


def path_key(path: str) -> str:
    """The key two paths share when they differ only by case: unique per version."""
    return hashlib.sha256(unicodedata.normalize("NFC", path.casefold()).encode()).hexdigest()


def _path_of(name: str) -> Callable[[Any], str]:
    """A row written with a name only (no folder) has its name as its path."""
    return lambda context: str(context.get_current_parameters()[name])


def _key_of(name: str) -> Callable[[Any], str]:
    def default(context: Any) -> str:
        given = context.get_current_parameters()
        return path_key(given.get("path") or given[name])

    return default


class Coverage:
    """Where and when the data were taken: a WGS 84 box in degrees (west > east when it
    crosses the antimeridian) and a period; any part may be unknown (null)."""

    west: Mapped[float | None] = mapped_column(Float)
    south: Mapped[float | None] = mapped_column(Float)
    east: Mapped[float | None] = mapped_column(Float)
    north: Mapped[float | None] = mapped_column(Float)
    time_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    time_end: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class EditableCoverage(Coverage):
    """Coverage a person may set or correct: each part says whether it is the union of the
    data below or a person's, and who made the last edit when."""

    bbox_source: Mapped[CoverageSource | None] = mapped_column(
        str_enum(CoverageSource, "bbox_source")
    )
    time_source: Mapped[CoverageSource | None] = mapped_column(
        str_enum(CoverageSource, "time_source")
    )
    coverage_edited_by: Mapped[str | None] = mapped_column(String(100))
    coverage_edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Dataset(EditableCoverage, Base):
    __tablename__ = "datasets"
    __table_args__ = (
        CheckConstraint(
            "(access_level = 'embargoed') = (embargo_until IS NOT NULL)", "embargo_date"
        ),
        *coverage_checks(),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    owner_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    # the original keywords (those not marked translated), in order; every keyword with its
    # language is a DatasetKeyword row
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    licence: Mapped[str] = mapped_column(String(200), doc="SPDX license expression")
    access_level: Mapped[AccessLevel] = mapped_column(str_enum(AccessLevel, "access_level"))
    embargo_until: Mapped[dt.date | None] = mapped_column(Date)
    partner_country_data: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        doc="partner-country data under a bilateral agreement: access requests need the"
        " Japanese and the partner lead's approval (migration 0020)",
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = utcnow_column()
    updated_at: Mapped[dt.datetime] = utcnow_column()


class DatasetKeyword(Base):
    """A keyword of a dataset in one BCP 47 language (migration 0019): a language may have
    many, a value once per language; the ones not marked translated are the originals (the
    dataset's `keywords` column holds their values)."""

    __tablename__ = "dataset_keywords"
    __table_args__ = (UniqueConstraint("dataset_id", "lang", "value"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    lang: Mapped[str] = mapped_column(String(64), doc="BCP 47 tag, standard form")
    value: Mapped[str] = mapped_column(Text)
    translated: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    @hybrid_property
    def original(self) -> bool:
        return not self.translated

    @original.inplace.expression
    @classmethod
    def _original(cls) -> ColumnElement[bool]:
        return not_(cls.translated)


class DatasetTheme(Base):
    __tablename__ = "dataset_themes"
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id"), primary_key=True, index=True)


class DatasetVersion(EditableCoverage, Base):
    """Version n of a dataset: a draft accepts files; once published it never changes."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "number"),
        CheckConstraint("number >= 1", "number_positive"),
        CheckConstraint(
            "(state = 'published') = (published_at IS NOT NULL)", "published_when_stamped"
        ),
        # at most one open draft per dataset
        Index(
            "uq_dataset_versions_one_draft",
            "dataset_id",
            unique=True,
            sqlite_where=text("state = 'draft'"),
            postgresql_where=text("state = 'draft'"),
        ),
        *coverage_checks(),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[VersionState] = mapped_column(str_enum(VersionState, "version_state"))
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_versions.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = utcnow_column()
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class Upload(Base):
    """One file on its way into a draft version. The database is the truth of its state."""

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint("declared_size >= 0", "declared_size_not_negative"),
        CheckConstraint("attempts >= 0", "attempts_not_negative"),
        Index("ix_uploads_state_lease", "state", "lease_expires_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255), doc="the path's last segment")
    path: Mapped[str] = mapped_column(String(1024), default=_path_of("filename"))
    path_key: Mapped[str] = mapped_column(String(64), default=_key_of("filename"))
    object_key: Mapped[str] = mapped_column(String(1024), unique=True)
    declared_size: Mapped[int] = mapped_column(BigInteger)
    declared_sha256: Mapped[str | None] = mapped_column(String(64))
    content_type: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[UploadState] = mapped_column(str_enum(UploadState, "upload_state"), index=True)
    multipart_id: Mapped[str | None] = mapped_column(String(1024))
    part_size: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    malware_signature: Mapped[str | None] = mapped_column(String(255))  # when QUARANTINED
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    store_sha256: Mapped[str | None] = mapped_column(
        String(64),
        doc="the sha256 the object store computed of the received bytes and checked against"
        " the one signed into their PUT, read at completion (ObjectInfo.store_sha256)",
    )
    detected_format: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[dt.datetime] = utcnow_column()
    updated_at: Mapped[dt.datetime] = utcnow_column()
    uploaded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class UploadWarning(Base):
    """Something processing noticed in a file it still accepted, in the order noticed."""

    __tablename__ = "upload_warnings"
    __table_args__ = (UniqueConstraint("upload_id", "position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # no CHECK constraint: a new code needs no migration
    code: Mapped[UploadWarningCode] = mapped_column(
        Enum(UploadWarningCode, native_enum=False, create_constraint=False, length=64)
    )
    message: Mapped[str] = mapped_column(Text)


class DatasetFile(Coverage, Base):
    """A file of a version. Published versions' files never change; a new draft copies them.
    Its coverage is the one its profile gives (`profile["coverage"]`)."""

    __tablename__ = "dataset_files"
    # no two paths of a version differ only by case (path_key: the case-folded path's sha256)
    __table_args__ = (UniqueConstraint("version_id", "path_key"), *coverage_checks())
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[int | None] = mapped_column(ForeignKey("uploads.id"), index=True)
    name: Mapped[str] = mapped_column(String(255), doc="the path's last segment")
    path: Mapped[str] = mapped_column(String(1024), default=_path_of("name"))
    path_key: Mapped[str] = mapped_column(String(64), default=_key_of("name"))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str | None] = mapped_column(String(64))
    raw_key: Mapped[str] = mapped_column(String(1024), index=True)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = utcnow_column()
    # the raw object's latest fixity check (the schedule picks the oldest first; history in
    # fixity_checks): null until first checked
    fixity_checked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    fixity_outcome: Mapped[str | None] = mapped_column(String(16), doc="a FixityOutcome")


class FixityCheck(Base):
    """One fixity check of one file's raw object, kept: when a failure began, what was
    found. A run checks each object once and writes a row for every file naming it."""

    __tablename__ = "fixity_checks"
    __table_args__ = (Index("ix_fixity_checks_file_checked", "file_id", "checked_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("dataset_files.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(32))
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[FixityOutcome] = mapped_column(str_enum(FixityOutcome, "fixity_outcome"))
    detail: Mapped[str | None] = mapped_column(String(500))


class Artifact(Base):
    """Something derived from a file (normalised Parquet, preview, profile), with its digest."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("file_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_files.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    bucket: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(1024))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = utcnow_column()
