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


def upgrade() -> None:
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
