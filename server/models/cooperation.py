"""Technical cooperation components, the Project Design Matrix, monitoring and evaluation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import PERIOD, Base, project_fk, str_enum, utcnow_column
from server.models.enums import (
    CourseType,
    DacRating,
    EquipmentStatus,
    EvaluationKind,
    MaterialKind,
    PdmLevel,
)


class ExpertDispatch(Base):
    __tablename__ = "expert_dispatches"
    __table_args__ = (CheckConstraint(PERIOD, "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    expert_id: Mapped[int] = mapped_column(ForeignKey("researchers.id"), index=True)
    origin_country: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    host_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    purpose: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = utcnow_column()


class DispatchCounterpart(Base):
    __tablename__ = "dispatch_counterparts"
    dispatch_id: Mapped[int] = mapped_column(
        ForeignKey("expert_dispatches.id", ondelete="CASCADE"), primary_key=True
    )
    researcher_id: Mapped[int] = mapped_column(
        ForeignKey("researchers.id"), primary_key=True, index=True
    )


class TrainingCourse(Base):
    __tablename__ = "training_courses"
    __table_args__ = (CheckConstraint(PERIOD, "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    title: Mapped[str] = mapped_column(String(500))
    course_type: Mapped[CourseType] = mapped_column(str_enum(CourseType, "course_type"), index=True)
    host_institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    host_country: Mapped[str] = mapped_column(ForeignKey("countries.code"), index=True)
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    outcome_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = utcnow_column()


class TrainingParticipant(Base):
    __tablename__ = "training_participants"
    course_id: Mapped[int] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), primary_key=True
    )
    researcher_id: Mapped[int] = mapped_column(
        ForeignKey("researchers.id"), primary_key=True, index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)


class EquipmentItem(Base):
    __tablename__ = "equipment_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", "quantity_positive"),
        CheckConstraint("value IS NULL OR value >= 0", "value_not_negative"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    item: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    recipient_institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    delivery_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[EquipmentStatus] = mapped_column(str_enum(EquipmentStatus, "equipment_status"))
    created_at: Mapped[dt.datetime] = utcnow_column()


class PdmElement(Base):
    """One row of the Project Design Matrix: goal, purpose, an output or an activity."""

    __tablename__ = "pdm_elements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    level: Mapped[PdmLevel] = mapped_column(str_enum(PdmLevel, "pdm_level"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("pdm_elements.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    description: Mapped[str] = mapped_column(Text)


class Indicator(Base):
    """An objectively verifiable indicator of a PDM element."""

    __tablename__ = "indicators"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    element_id: Mapped[int] = mapped_column(
        ForeignKey("pdm_elements.id", ondelete="CASCADE"), index=True
    )
    description: Mapped[str] = mapped_column(Text)
    unit: Mapped[str] = mapped_column(String(50))
    baseline: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    target: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    means_of_verification: Mapped[str | None] = mapped_column(Text)


class IndicatorMeasurement(Base):
    __tablename__ = "indicator_measurements"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), index=True
    )
    measured_on: Mapped[dt.date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    unit: Mapped[str] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = utcnow_column()


class JccMeeting(Base):
    """A Joint Coordinating Committee meeting."""

    __tablename__ = "jcc_meetings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    held_on: Mapped[dt.date] = mapped_column(Date)
    minutes: Mapped[str | None] = mapped_column(Text)
    decisions: Mapped[str | None] = mapped_column(Text)


class MonitoringReport(Base):
    __tablename__ = "monitoring_reports"
    __table_args__ = (CheckConstraint("period_end >= period_start", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    submitted_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(String(500))


class Evaluation(Base):
    """Ex-ante, mid-term review, terminal or ex-post evaluation, rated on the DAC criteria."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("project_id", "kind"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    kind: Mapped[EvaluationKind] = mapped_column(str_enum(EvaluationKind, "evaluation_kind"))
    evaluated_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str | None] = mapped_column(Text)
    document_ref: Mapped[str | None] = mapped_column(String(500))
    relevance: Mapped[DacRating | None] = mapped_column(str_enum(DacRating, "dac_relevance"))
    coherence: Mapped[DacRating | None] = mapped_column(str_enum(DacRating, "dac_coherence"))
    effectiveness: Mapped[DacRating | None] = mapped_column(
        str_enum(DacRating, "dac_effectiveness")
    )
    impact: Mapped[DacRating | None] = mapped_column(str_enum(DacRating, "dac_impact"))
    efficiency: Mapped[DacRating | None] = mapped_column(str_enum(DacRating, "dac_efficiency"))
    sustainability: Mapped[DacRating | None] = mapped_column(
        str_enum(DacRating, "dac_sustainability")
    )
    created_at: Mapped[dt.datetime] = utcnow_column()


class LessonLearned(Base):
    __tablename__ = "lessons_learned"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = utcnow_column()


class FollowUpCooperation(Base):
    __tablename__ = "follow_up_cooperations"
    __table_args__ = (CheckConstraint(PERIOD, "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text)


class LearningMaterial(Base):
    """Seminar material or digital content of the JICA-Net library, produced by a project."""

    __tablename__ = "learning_materials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = project_fk()
    title: Mapped[str] = mapped_column(String(500))
    kind: Mapped[MaterialKind] = mapped_column(str_enum(MaterialKind, "material_kind"))
    language: Mapped[str] = mapped_column(String(3), doc="ISO 639-1 or 639-3 code")
    audience: Mapped[str | None] = mapped_column(String(200))
    licence: Mapped[str] = mapped_column(String(100), doc="SPDX license expression")
    url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = utcnow_column()
