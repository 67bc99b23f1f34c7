"""Researchers and their affiliations with institutions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import PERIOD, Base, utcnow_column


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
    __table_args__ = (CheckConstraint(PERIOD, "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    researcher_id: Mapped[int] = mapped_column(
        ForeignKey("researchers.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
