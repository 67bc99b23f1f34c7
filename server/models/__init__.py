"""SQLAlchemy 2 tables. Relationships are lazy="raise": reads go through explicit queries."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import Base, UTCDateTime, utcnow
from server.models.enums import (
    AccountRole,
    InstitutionKind,
    InstitutionRole,
    MemberRole,
    ProjectPhase,
)

__all__ = [
    "Account",
    "Affiliation",
    "ApiToken",
    "Base",
    "Country",
    "Institution",
    "PhaseTransition",
    "Project",
    "ProjectCountry",
    "ProjectInstitution",
    "ProjectMember",
    "ProjectTheme",
    "Researcher",
    "Theme",
    "ThemeSdg",
]


def str_enum(cls: type, name: str) -> Enum:
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda e: [m.value for m in e],
    )


def utcnow_column() -> Mapped[dt.datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Country(Base):
    __tablename__ = "countries"
    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))


class Institution(Base):
    __tablename__ = "institutions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_en: Mapped[str] = mapped_column(String(300))
    name_local: Mapped[str | None] = mapped_column(String(300))
    acronym: Mapped[str | None] = mapped_column(String(32))
    country_code: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    kind: Mapped[InstitutionKind] = mapped_column(str_enum(InstitutionKind, "institution_kind"))
    ror_id: Mapped[str | None] = mapped_column(String(9), unique=True)
    website: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = utcnow_column()
    updated_at: Mapped[dt.datetime] = utcnow_column()


class Researcher(Base):
    __tablename__ = "researchers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_en: Mapped[str] = mapped_column(String(300))
    name_local: Mapped[str | None] = mapped_column(String(300))
    orcid: Mapped[str | None] = mapped_column(String(19), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[dt.datetime] = utcnow_column()


class Affiliation(Base):
    __tablename__ = "affiliations"
    __table_args__ = (
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", "period"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    researcher_id: Mapped[int] = mapped_column(
        ForeignKey("researchers.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)


class Theme(Base):
    __tablename__ = "themes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"), index=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class ThemeSdg(Base):
    __tablename__ = "theme_sdgs"
    __table_args__ = (CheckConstraint("sdg BETWEEN 1 AND 17", "sdg_range"),)
    theme_id: Mapped[int] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), primary_key=True
    )
    sdg: Mapped[int] = mapped_column(Integer, primary_key=True)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (
        CheckConstraint(
            "end_date IS NULL OR start_date IS NULL OR end_date >= start_date", "period"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    acronym: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    phase: Mapped[ProjectPhase] = mapped_column(
        str_enum(ProjectPhase, "project_phase"), index=True, default=ProjectPhase.IDENTIFICATION
    )
    rd_signed_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = utcnow_column()
    updated_at: Mapped[dt.datetime] = utcnow_column()


class ProjectTheme(Base):
    __tablename__ = "project_themes"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id"), primary_key=True, index=True)


class ProjectCountry(Base):
    """A partner country of a project."""

    __tablename__ = "project_countries"
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    country_code: Mapped[str] = mapped_column(
        ForeignKey("countries.code"), primary_key=True, index=True
    )


class ProjectInstitution(Base):
    __tablename__ = "project_institutions"
    __table_args__ = (UniqueConstraint("project_id", "institution_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    role: Mapped[InstitutionRole] = mapped_column(str_enum(InstitutionRole, "institution_role"))


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "researcher_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole, "member_role"))


class PhaseTransition(Base):
    __tablename__ = "phase_transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    from_phase: Mapped[ProjectPhase | None] = mapped_column(
        str_enum(ProjectPhase, "transition_from_phase")
    )
    to_phase: Mapped[ProjectPhase] = mapped_column(str_enum(ProjectPhase, "transition_to_phase"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    at: Mapped[dt.datetime] = utcnow_column()
    note: Mapped[str | None] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(String(500))
    override_reason: Mapped[str | None] = mapped_column(
        Text, doc="Why an admin overrode a rule of the lifecycle (e.g. an early ex-post evaluation)"
    )


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[AccountRole] = mapped_column(str_enum(AccountRole, "account_role"))
    researcher_id: Mapped[int | None] = mapped_column(ForeignKey("researchers.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    created_at: Mapped[dt.datetime] = utcnow_column()


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = utcnow_column()
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str] = mapped_column(
        String(100), default="read", doc="space-separated: read write upload admin"
    )


# Registered on Base.metadata by import (after the names above they depend on).
from server.models.cooperation import (  # noqa: E402
    DispatchCounterpart,
    EquipmentItem,
    Evaluation,
    ExpertDispatch,
    FollowUpCooperation,
    Indicator,
    IndicatorMeasurement,
    JccMeeting,
    LearningMaterial,
    LessonLearned,
    MonitoringReport,
    PdmElement,
    TrainingCourse,
    TrainingParticipant,
)

__all__ += [
    "DispatchCounterpart",
    "EquipmentItem",
    "Evaluation",
    "ExpertDispatch",
    "FollowUpCooperation",
    "Indicator",
    "IndicatorMeasurement",
    "JccMeeting",
    "LearningMaterial",
    "LessonLearned",
    "MonitoringReport",
    "PdmElement",
    "TrainingCourse",
    "TrainingParticipant",
]

from server.models.datasets import (  # noqa: E402
    Artifact,
    Dataset,
    DatasetFile,
    DatasetTheme,
    DatasetVersion,
    Upload,
)

__all__ += ["Artifact", "Dataset", "DatasetFile", "DatasetTheme", "DatasetVersion", "Upload"]

from server.models.access import AuditEvent, OidcIdentity  # noqa: E402

__all__ += ["AuditEvent", "OidcIdentity"]

from server.models.provenance import ProvEdge, ProvKind, ProvNode, ProvRelation  # noqa: E402

__all__ += ["ProvEdge", "ProvKind", "ProvNode", "ProvRelation"]

from server.models.stats import (  # noqa: E402
    StatsCube,
    StatsDataset,
    StatsDatasetBucket,
    StatsProject,
    StatsProjectOrigin,
    StatsProjectRating,
    StatsPublicProject,
    StatsRefresh,
)

__all__ += [
    "StatsCube",
    "StatsDataset",
    "StatsDatasetBucket",
    "StatsProject",
    "StatsProjectOrigin",
    "StatsProjectRating",
    "StatsPublicProject",
    "StatsRefresh",
]
