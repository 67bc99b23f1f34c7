"""Notifications (migration 0021): the outbox of events, written in the transaction of the
change they announce; webhook subscriptions; each account's e-mail preference; and one
delivery row per (event, webhook) and (event, account's e-mail), with its attempts. The
database is the queue: dispatchers claim due deliveries, a lease lets another take over."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, orm_insert_sentinel

from server.models.base import Base, UTCDateTime, utcnow_column


class OutboxEvent(Base):
    """One event, as it happened: its name, the subjects it is about and its payload.
    `fanned_out_at` is set once its delivery rows exist."""

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_fanned_out_at", "fanned_out_at", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event: Mapped[str] = mapped_column(String(64))
    project_id: Mapped[int | None] = mapped_column(Integer)
    institution_id: Mapped[int | None] = mapped_column(Integer)
    dataset_id: Mapped[int | None] = mapped_column(Integer)
    upload_id: Mapped[int | None] = mapped_column(Integer)
    recipients: Mapped[list[int] | None] = mapped_column(
        JSON, doc="account ids told by e-mail (None: the subjects' people)"
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = utcnow_column()
    fanned_out_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # numbers the rows of one multi-row INSERT so that their generated ids come back in
    # order (SQLAlchemy's insert sentinel, migration 0026): a flush of N events is one
    # statement on SQLite, not N (a folder's uploads emit two each)
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        CheckConstraint("(project_id IS NULL) <> (institution_id IS NULL)", name="one_target"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[int | None] = mapped_column(
        ForeignKey("institutions.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128), doc="the HMAC key (it must sign)")
    events: Mapped[list[str] | None] = mapped_column(JSON, doc="None: every event")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = utcnow_column()


class NotificationPreference(Base):
    """An account's e-mail: where, in which language, how often; a bounce stops mail to the
    address until the address is set again."""

    __tablename__ = "notification_preferences"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(64), default="en")
    mode: Mapped[str] = mapped_column(String(16), doc="each, digest or none")
    bounced_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    bounce_message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = utcnow_column()


class Delivery(Base):
    """One event to one webhook or one account's e-mail. `delivery_id` is what the receiver
    sees (X-Satreps-Delivery): the same on every attempt and redelivery.

    state: pending (due at next_attempt_at; claimed while claim_expires_at is ahead),
    delivered, failed (final: last_code says why), digest (waits for the daily e-mail)."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id"),
        UniqueConstraint("event_id", "account_id"),
        CheckConstraint("(subscription_id IS NULL) <> (account_id IS NULL)", name="one_target"),
        Index("ix_notification_deliveries_due", "state", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_id: Mapped[int] = mapped_column(
        ForeignKey("notification_outbox.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16), doc="webhook or email")
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = utcnow_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claim_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_code: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = utcnow_column()


class DeliveryAttempt(Base):
    """The delivery log: every attempt, with its outcome."""

    __tablename__ = "notification_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("notification_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    code: Mapped[str | None] = mapped_column(String(64), doc="why it failed (stable)")
    status: Mapped[int | None] = mapped_column(Integer, doc="HTTP status or SMTP reply code")
    response: Mapped[str | None] = mapped_column(Text, doc="the reply, truncated")
    worker: Mapped[str | None] = mapped_column(String(64))
