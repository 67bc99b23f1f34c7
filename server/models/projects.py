"""Joint research projects: their themes, partner countries, institutions, members and
the history of their lifecycle phases."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import PERIOD, Base, project_fk, str_enum, utcnow_column
from server.models.enums import InstitutionRole, MemberRole, ProjectPhase


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (CheckConstraint(PERIOD, "period"),)
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
    project_id: Mapped[int] = project_fk()
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    role: Mapped[InstitutionRole] = mapped_column(str_enum(InstitutionRole, "institution_role"))


class ProjectMember(Base):
    __tablename__ = "project_members"
    __table_args__ = (UniqueConstraint("project_id", "researcher_id", "role"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole, "member_role"))


class PhaseTransition(Base):
    __tablename__ = "phase_transitions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
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
