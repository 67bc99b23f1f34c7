"""stats: materialised programme figures, refreshed by the workers

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


NO_EMBARGO = "'1900-01-01'"  # not 0001-01-01: asyncpg sends date.min as -infinity
FIGURES = ("versions", "bytes_stored", "uploads_ready", "uploads_failed")


def _bucket_of(row: str) -> str:
    return (
        f"project_id = {row}.project_id AND access_level = {row}.access_level"
        f" AND embargo_until = coalesce({row}.embargo_until, {NO_EMBARGO})"
    )


def _snapshot(row: str, figure: str) -> str:
    return f"coalesce((SELECT s.{figure} FROM stats_datasets s WHERE s.dataset_id = {row}.id), 0)"


def _leave(row: str) -> str:
    """A dataset leaves its bucket (deleted, or moved to another)."""
    figures = ", ".join(f"{f} = {f} - {_snapshot(row, f)}" for f in FIGURES)
    return (
        f"UPDATE stats_dataset_buckets SET datasets = datasets - 1, {figures} "
        f"WHERE {_bucket_of(row)}"
    )


def _join(row: str) -> str:
    """A dataset joins its bucket (inserted, or moved from another)."""
    values = ", ".join(_snapshot(row, f) for f in FIGURES)
    added = ", ".join(f"{f} = stats_dataset_buckets.{f} + excluded.{f}" for f in FIGURES)
    return (
        "INSERT INTO stats_dataset_buckets (project_id, access_level, embargo_until, "
        f"datasets, {', '.join(FIGURES)}) VALUES ({row}.project_id, {row}.access_level, "
        f"coalesce({row}.embargo_until, {NO_EMBARGO}), 1, {values}) "
        "ON CONFLICT (project_id, access_level, embargo_until) DO UPDATE SET "
        f"datasets = stats_dataset_buckets.datasets + 1, {added}"
    )


MOVED = (
    "OLD.project_id <> NEW.project_id OR OLD.access_level <> NEW.access_level"
    f" OR coalesce(OLD.embargo_until, {NO_EMBARGO}) <> coalesce(NEW.embargo_until, {NO_EMBARGO})"
)


def _bucket_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"CREATE TRIGGER stats_datasets_ai AFTER INSERT ON datasets BEGIN {_join('NEW')}; END"
        )
        op.execute(
            f"CREATE TRIGGER stats_datasets_ad AFTER DELETE ON datasets BEGIN {_leave('OLD')}; END"
        )
        op.execute(
            "CREATE TRIGGER stats_datasets_au AFTER UPDATE OF project_id, access_level, "
            f"embargo_until ON datasets WHEN {MOVED} BEGIN {_leave('OLD')}; {_join('NEW')}; END"
        )
        return
    op.execute(
        "CREATE FUNCTION stats_dataset_bucket() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP IN ('DELETE', 'UPDATE') THEN {_leave('OLD')}; END IF; "
        f"IF TG_OP IN ('INSERT', 'UPDATE') THEN {_join('NEW')}; END IF; "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER stats_datasets_insert_delete AFTER INSERT OR DELETE ON datasets "
        "FOR EACH ROW EXECUTE FUNCTION stats_dataset_bucket()"
    )
    op.execute(
        "CREATE TRIGGER stats_datasets_update AFTER UPDATE OF project_id, access_level, "
        f"embargo_until ON datasets FOR EACH ROW WHEN ({MOVED}) "
        "EXECUTE FUNCTION stats_dataset_bucket()"
    )


def upgrade() -> None:
    op.create_table(
        "stats_dataset_buckets",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("access_level", sa.String(length=32), nullable=False),
        sa.Column("embargo_until", sa.Date(), nullable=False),
        sa.Column("datasets", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("bytes_stored", sa.BigInteger(), nullable=False),
        sa.Column("uploads_ready", sa.Integer(), nullable=False),
        sa.Column("uploads_failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "access_level", "embargo_until", name=op.f("pk_stats_dataset_buckets")
        ),
    )
    # the datasets there already (their figures come with the first refresh)
    op.execute(
        "INSERT INTO stats_dataset_buckets SELECT project_id, access_level, "
        f"coalesce(embargo_until, {NO_EMBARGO}), count(*), 0, 0, 0, 0 FROM datasets "
        f"GROUP BY project_id, access_level, coalesce(embargo_until, {NO_EMBARGO})"
    )
    _bucket_triggers()
    op.create_table(
        "stats_projects",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dispatches", sa.Integer(), nullable=False),
        sa.Column("dispatch_days", sa.Float(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("equipment_value", sa.Numeric(18, 2), nullable=False),
        sa.Column("indicators", sa.Integer(), nullable=False),
        sa.Column("indicators_on_track", sa.Integer(), nullable=False),
        sa.Column("evaluations", sa.Integer(), nullable=False),
        sa.Column("datasets", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("bytes_stored", sa.BigInteger(), nullable=False),
        sa.Column("uploads_ready", sa.Integer(), nullable=False),
        sa.Column("uploads_failed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_stats_projects")),
    )
    op.create_table(
        "stats_project_origins",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("origin_country", sa.String(length=2), nullable=False),
        sa.Column("dispatches", sa.Integer(), nullable=False),
        sa.Column("days", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "origin_country", name=op.f("pk_stats_project_origins")
        ),
    )
    op.create_table(
        "stats_project_ratings",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(length=32), nullable=False),
        sa.Column("rating", sa.String(length=1), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "project_id", "criterion", "rating", name=op.f("pk_stats_project_ratings")
        ),
    )
    op.create_table(
        "stats_datasets",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("bytes_stored", sa.BigInteger(), nullable=False),
        sa.Column("uploads_ready", sa.Integer(), nullable=False),
        sa.Column("uploads_failed", sa.Integer(), nullable=False),
        sa.Column("first_published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("dataset_id", name=op.f("pk_stats_datasets")),
    )
    op.create_index(
        op.f("ix_stats_datasets_project_id"), "stats_datasets", ["project_id"], unique=False
    )
    op.create_table(
        "stats_cube",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "key", name=op.f("pk_stats_cube")),
    )
    op.create_table(
        "stats_refreshes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_refreshes")),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS stats_datasets_{suffix}")
    else:
        op.execute("DROP TRIGGER IF EXISTS stats_datasets_insert_delete ON datasets")
        op.execute("DROP TRIGGER IF EXISTS stats_datasets_update ON datasets")
        op.execute("DROP FUNCTION IF EXISTS stats_dataset_bucket()")
    op.drop_table("stats_dataset_buckets")
    op.drop_index(op.f("ix_stats_datasets_project_id"), table_name="stats_datasets")
    for table in (
        "stats_refreshes",
        "stats_cube",
        "stats_datasets",
        "stats_project_ratings",
        "stats_project_origins",
        "stats_projects",
    ):
        op.drop_table(table)
