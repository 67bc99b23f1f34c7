"""Publishing (migration 0022): each published version's place in the outward record that
harvesters and registries read (OAI-PMH, DataCite, DCAT)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, utcnow_column


class PublicRecord(Base):
    """A published version that has been a public record. `datestamp` moves whenever what the
    public sees of it changes (published, metadata edited, files opened by an embargo's end,
    withdrawn); `deleted` marks a version no longer public (its dataset made restricted): the
    row stays for ever, as OAI-PMH's `deletedRecord: persistent` promises harvesters."""

    __tablename__ = "public_records"
    __table_args__ = (Index("ix_public_records_datestamp", "datestamp", "version_id"),)
    version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    datestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    files_public: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="the public could read its files at the datestamp"
    )
    created_at: Mapped[dt.datetime] = utcnow_column()
