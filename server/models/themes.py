"""The tree of global-issue themes and the SDGs each serves."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


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
