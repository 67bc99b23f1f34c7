"""Institutions and the countries they are in."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, str_enum, utcnow_column
from server.models.enums import InstitutionKind


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
