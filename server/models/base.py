"""What every model module shares: the declarative `Base` (server/core/db.py, with the
constraint naming convention) and the column types and helpers the tables are built from.
Model modules import from here, never from the package."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Enum, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from server.core.db import NAMING_CONVENTION, Base, UTCDateTime, utcnow

__all__ = [
    "NAMING_CONVENTION",
    "PERIOD",
    "Base",
    "UTCDateTime",
    "project_fk",
    "str_enum",
    "utcnow_column",
]

PERIOD = "end_date IS NULL OR start_date IS NULL OR end_date >= start_date"


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


def project_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
