"""Access requests to datasets, their approvals, the time-limited grants they give, and
data use agreements (versioned, with Nagoya Protocol ABS references) with their acceptances
(migration 0020)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, str_enum, utcnow_column
from server.models.enums import AccessRequestStatus, ApprovalSide

OPEN = text("status = 'pending'")


class AccessRequest(Base):
    """A researcher asks for access to a dataset they may not read, with a purpose."""

    __tablename__ = "access_requests"
    __table_args__ = (
        # one open request per researcher and dataset (an expired one is closed first)
        Index(
            "uq_access_requests_open",
            "dataset_id",
            "researcher_id",
            unique=True,
            sqlite_where=OPEN,
            postgresql_where=OPEN,
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), doc="the account that asked"
    )
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[AccessRequestStatus] = mapped_column(
        str_enum(AccessRequestStatus, "access_request_status")
    )
    dual: Mapped[bool] = mapped_column(
        Boolean, doc="needs the Japanese and the partner lead (partner-country data)"
    )
    created_at: Mapped[dt.datetime] = utcnow_column()
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    denial_reason: Mapped[str | None] = mapped_column(Text)


class AccessApproval(Base):
    """One side's approval of a request; the request is granted when every side it needs
    has approved (one for most data, two for partner-country data)."""

    __tablename__ = "access_approvals"
    __table_args__ = (
        UniqueConstraint("request_id", "side"),
        UniqueConstraint("request_id", "account_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("access_requests.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[ApprovalSide] = mapped_column(str_enum(ApprovalSide, "approval_side"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    researcher_id: Mapped[int | None] = mapped_column(ForeignKey("researchers.id"))
    at: Mapped[dt.datetime] = utcnow_column()


class AccessGrant(Base):
    """Time-limited read access to one dataset for one researcher: the SQL access filters
    (server/access/visibility.py) let its holder in while it is neither revoked nor past
    `valid_until` (the last day, inclusive)."""

    __tablename__ = "access_grants"
    __table_args__ = (Index("ix_access_grants_dataset_researcher", "dataset_id", "researcher_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("access_requests.id", ondelete="CASCADE"), unique=True
    )
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id"), index=True)
    granted_at: Mapped[dt.datetime] = utcnow_column()
    valid_until: Mapped[dt.date] = mapped_column(Date)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    expiring_noticed_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, doc="when the sweep announced the grant's coming end (once)"
    )


class DataUseAgreement(Base):
    """One version of a dataset's terms of use: a new version is a new row; the highest
    version is the current one. For genetic resources, the Nagoya Protocol's access and
    benefit-sharing references."""

    __tablename__ = "data_use_agreements"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    abs_provider_country: Mapped[str | None] = mapped_column(
        String(2), doc="ISO 3166-1 alpha-2 code of the country providing the genetic resources"
    )
    abs_pic_ref: Mapped[str | None] = mapped_column(
        String(500), doc="prior informed consent document reference"
    )
    abs_mat_ref: Mapped[str | None] = mapped_column(
        String(500), doc="mutually agreed terms document reference"
    )
    abs_ircc: Mapped[str | None] = mapped_column(
        String(64), doc="internationally recognised certificate of compliance (ABSCH-IRCC-...)"
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = utcnow_column()


class AgreementAcceptance(Base):
    """Who accepted which version of an agreement, and when."""

    __tablename__ = "agreement_acceptances"
    __table_args__ = (
        UniqueConstraint("agreement_id", "researcher_id"),
        Index("ix_agreement_acceptances_researcher", "researcher_id", "agreement_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agreement_id: Mapped[int] = mapped_column(
        ForeignKey("data_use_agreements.id", ondelete="CASCADE")
    )
    researcher_id: Mapped[int] = mapped_column(ForeignKey("researchers.id"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    accepted_at: Mapped[dt.datetime] = utcnow_column()
