"""Materialised programme figures (server/analytics/cube.py refresh_stats), rebuilt by the worker
cron and the embedded reconciler. Who may see what is never decided here: every query joins
the live projects and datasets and applies server/access/visibility.py to them, or (the public cube)
first checks that the projects the public may see are still those it was built from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, Float, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class StatsProject(Base):
    """Per project: its cooperation figures, and its datasets' (all of them: for staff)."""

    __tablename__ = "stats_projects"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dispatches: Mapped[int] = mapped_column(Integer, default=0)
    dispatch_days: Mapped[float] = mapped_column(Float, default=0.0)
    participants: Mapped[int] = mapped_column(Integer, default=0)
    indicators: Mapped[int] = mapped_column(Integer, default=0)
    indicators_on_track: Mapped[int] = mapped_column(Integer, default=0)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    datasets: Mapped[int] = mapped_column(Integer, default=0)
    versions: Mapped[int] = mapped_column(Integer, default=0)
    bytes_stored: Mapped[int] = mapped_column(BigInteger, default=0)
    uploads_ready: Mapped[int] = mapped_column(Integer, default=0)
    uploads_failed: Mapped[int] = mapped_column(Integer, default=0)


class StatsProjectOrigin(Base):
    __tablename__ = "stats_project_origins"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    origin_country: Mapped[str] = mapped_column(String(2), primary_key=True)
    dispatches: Mapped[int] = mapped_column(Integer)
    days: Mapped[float] = mapped_column(Float)


class StatsProjectEquipment(Base):
    """Per project and ISO 4217 currency: the recorded value of its equipment (amounts in
    different currencies are never added together)."""

    __tablename__ = "stats_project_equipment"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    value: Mapped[Decimal] = mapped_column(Numeric(18, 2))


class StatsProjectRating(Base):
    __tablename__ = "stats_project_ratings"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    criterion: Mapped[str] = mapped_column(String(32), primary_key=True)
    rating: Mapped[str] = mapped_column(String(1), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class StatsDataset(Base):
    """Per dataset: versions, bytes and uploads (its visibility is read live)."""

    __tablename__ = "stats_datasets"
    dataset_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    versions: Mapped[int] = mapped_column(Integer)
    bytes_stored: Mapped[int] = mapped_column(BigInteger)
    uploads_ready: Mapped[int] = mapped_column(Integer)
    uploads_failed: Mapped[int] = mapped_column(Integer)
    first_published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class StatsRefresh(Base):
    __tablename__ = "stats_refreshes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    refreshed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class StatsCube(Base):
    """themeStats without a filter, per dimension and group, as of the refresh: for staff
    (dimension "theme", ...) and, but for the datasets, for the public ("public/theme")."""

    __tablename__ = "stats_cube"
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)


class StatsPublicProject(Base):
    """The projects the public could see at the refresh: the public cube answers only while
    they are still exactly those the public may see."""

    __tablename__ = "stats_public_projects"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)


NO_EMBARGO = dt.date(1900, 1, 1)  # not date.min: asyncpg sends it as -infinity


class StatsDatasetBucket(Base):
    """Datasets per project, access level and embargo date (NO_EMBARGO when none), with
    their figures: kept in step with the datasets by triggers (migration 0007), so the
    access rules applied to a bucket are the rules of its datasets now; the figures are
    those of the last refresh."""

    __tablename__ = "stats_dataset_buckets"
    project_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_level: Mapped[str] = mapped_column(String(32), primary_key=True)
    embargo_until: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    datasets: Mapped[int] = mapped_column(Integer)
    versions: Mapped[int] = mapped_column(Integer)
    bytes_stored: Mapped[int] = mapped_column(BigInteger)
    uploads_ready: Mapped[int] = mapped_column(Integer)
    uploads_failed: Mapped[int] = mapped_column(Integer)
