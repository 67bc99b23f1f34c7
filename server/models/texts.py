"""Language-tagged texts: the values of a name, title, acronym or summary in each language.

One table for every owner: a row belongs to exactly one owner (a project, an institution, a
researcher, a theme, a dataset or a learning material: a foreign key each, deleted with it)
and holds one field's value in one BCP 47 language. A field's values are one row per
language (unique), in the order given; one of them is the original (the language it was
written in: the owner's own column keeps that value, so everything that reads the column
reads the original), the others may be translations of it."""

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
)
ONE_OWNER = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in OWNER_COLUMNS) + " = 1"


class LanguageText(Base):
    __tablename__ = "language_texts"
    __table_args__ = (
        CheckConstraint(ONE_OWNER, "one_owner"),
        CheckConstraint("NOT (original AND translated)", "original_not_translated"),
        UniqueConstraint("project_id", "field", "lang"),
        UniqueConstraint("institution_id", "field", "lang"),
        UniqueConstraint("researcher_id", "field", "lang"),
        UniqueConstraint("theme_id", "field", "lang"),
        UniqueConstraint("dataset_id", "field", "lang"),
        UniqueConstraint("material_id", "field", "lang"),
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
    field: Mapped[str] = mapped_column(String(32))
    lang: Mapped[str] = mapped_column(String(64), doc="BCP 47 tag, standard form")
    value: Mapped[str] = mapped_column(Text)
    original: Mapped[bool] = mapped_column(Boolean, default=False)
    translated: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="A translation (machine or human) of the original"
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
