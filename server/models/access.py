"""Access control records: accounts, their API tokens and external (OIDC) identities, and
the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime, str_enum, utcnow_column
from server.models.enums import AccountRole


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[AccountRole] = mapped_column(str_enum(AccountRole, "account_role"))
    researcher_id: Mapped[int | None] = mapped_column(ForeignKey("researchers.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institutions.id"))
    created_at: Mapped[dt.datetime] = utcnow_column()


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = utcnow_column()
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    scopes: Mapped[str] = mapped_column(
        String(100), default="read", doc="space-separated: read write upload admin"
    )


class AuditEvent(Base):
    """Who did what, when, to which target, and how it ended. Rows are only ever added."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_target", "target_type", "target_id"),
        Index("ix_audit_events_account_at", "account_id", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = utcnow_column()
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), doc="None: anonymous or the system"
    )
    actor: Mapped[str] = mapped_column(String(120), doc="username, 'anonymous' or 'system'")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    code: Mapped[str | None] = mapped_column(String(64), doc="the error code when not ok")
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    client: Mapped[str | None] = mapped_column(String(64), doc="the caller's address")


class OidcIdentity(Base):
    """An account's identity at an OpenID Connect issuer (issuer + subject claim)."""

    __tablename__ = "oidc_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = utcnow_column()
    last_seen_at: Mapped[dt.datetime] = utcnow_column()
