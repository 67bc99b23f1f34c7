"""Publishing (migrations 0022, 0023): each published version's place in the outward record
that harvesters and registries read (OAI-PMH, DataCite, DCAT), and the persistent identifiers
of versions and datasets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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


class PersistentId(Base):
    """A persistent identifier: a version's (`version_id` set) or its dataset's concept
    identifier (`version_id` null). `scheme` is `doi` (registered with DataCite) or `local`
    (no registry: the embedded default). The row is an outbox: the transaction that changes
    what the public sees marks it (`needs_push`, `revision` + 1) and the registration job
    pushes it when due (`next_attempt_at`), claiming it until `claimed_until`.

    `state`: `draft` (not yet at the registry), `findable` (public), `registered` (known to
    the registry but hidden: the record was withdrawn), `failed` (the registry refused it:
    `reason` says why; the next change pushes again). `reason` also keeps what the last push
    mended (a title cut) or the last transient error while retrying."""

    __tablename__ = "persistent_ids"
    __table_args__ = (
        UniqueConstraint("scheme", "value"),
        Index("ix_persistent_ids_due", "needs_push", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[int | None] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), unique=True
    )
    scheme: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    reason: Mapped[str | None] = mapped_column(Text)
    remote: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="the registry has the identifier (PUT, not POST)"
    )
    needs_push: Mapped[bool] = mapped_column(Boolean, default=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = utcnow_column()
    updated_at: Mapped[dt.datetime] = utcnow_column()
