"""Language-tagged texts: the values of a name, title, acronym or summary in each language.

One table for every owner: a row belongs to exactly one owner (a project, an institution, a
researcher, a theme, a dataset, a learning material, a training course, a PDM element or
indicator, a monitoring report, an evaluation, a follow-up cooperation or a data use
agreement: a foreign key each, deleted with it) and holds one field's value in one BCP 47
language. A field's values are one row per language (unique), in the order given; one of
them is the original (the language it was written in: the owner's own column keeps that
value, so everything that reads the column reads the original), the others may be
translations of it."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base

# the owner columns: one of them is set on each row
OWNER_COLUMNS = (
    "project_id",
    "institution_id",
    "researcher_id",
    "theme_id",
    "dataset_id",
    "material_id",
    "course_id",
    "pdm_element_id",
    "indicator_id",
    "monitoring_report_id",
    "evaluation_id",
    "follow_up_id",
    "agreement_id",
)
# the owner column -> the owning table
OWNER_TABLES = {
    "project_id": "projects",
    "institution_id": "institutions",
    "researcher_id": "researchers",
    "theme_id": "themes",
    "dataset_id": "datasets",
    "material_id": "learning_materials",
    "course_id": "training_courses",
    "pdm_element_id": "pdm_elements",
    "indicator_id": "indicators",
    "monitoring_report_id": "monitoring_reports",
    "evaluation_id": "evaluations",
    "follow_up_id": "follow_up_cooperations",
    "agreement_id": "data_use_agreements",
}
ONE_OWNER = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in OWNER_COLUMNS) + " = 1"


class LanguageText(Base):
    __tablename__ = "language_texts"
    __table_args__ = (
        CheckConstraint(ONE_OWNER, "one_owner"),
        CheckConstraint("NOT (original AND translated)", "original_not_translated"),
        *(UniqueConstraint(c, "field", "lang") for c in OWNER_COLUMNS),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), index=True
    )
    researcher_id: Mapped[int | None] = mapped_column(
        ForeignKey("researchers.id", ondelete="CASCADE"), index=True
    )
    theme_id: Mapped[int | None] = mapped_column(
        ForeignKey("themes.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    material_id: Mapped[int | None] = mapped_column(
        ForeignKey("learning_materials.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_courses.id", ondelete="CASCADE"), index=True
    )
    pdm_element_id: Mapped[int | None] = mapped_column(
        ForeignKey("pdm_elements.id", ondelete="CASCADE"), index=True
    )
    indicator_id: Mapped[int | None] = mapped_column(
        ForeignKey("indicators.id", ondelete="CASCADE"), index=True
    )
    monitoring_report_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitoring_reports.id", ondelete="CASCADE"), index=True
    )
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id", ondelete="CASCADE"), index=True
    )
    follow_up_id: Mapped[int | None] = mapped_column(
        ForeignKey("follow_up_cooperations.id", ondelete="CASCADE"), index=True
    )
    agreement_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_use_agreements.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(64), doc="BCP 47 tag, standard form")
    value: Mapped[str] = mapped_column(Text)
    original: Mapped[bool] = mapped_column(Boolean, default=False)
    translated: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="A translation (machine or human) of the original"
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
