"""fixity schedule: each file's latest fixity check, and every check kept

dataset_files gains fixity_checked_at and fixity_outcome (null until the first check; the
scheduled check picks the oldest first, by the index) and an index on raw_key (a check of
one raw object updates every file that names it: a new draft carries its files over).
fixity_checks keeps one row per check of a file.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.core.db import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset_files", sa.Column("fixity_checked_at", UTCDateTime(), nullable=True))
    op.add_column("dataset_files", sa.Column("fixity_outcome", sa.String(16), nullable=True))
    op.create_index("ix_dataset_files_fixity_checked_at", "dataset_files", ["fixity_checked_at"])
    op.create_index("ix_dataset_files_raw_key", "dataset_files", ["raw_key"])
    op.create_table(
        "fixity_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "file_id",
            sa.Integer(),
            sa.ForeignKey(
                "dataset_files.id",
                ondelete="CASCADE",
                name="fk_fixity_checks_file_id_dataset_files",
            ),
            nullable=False,
        ),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "ok",
                "mismatch",
                "missing",
                name="fixity_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("detail", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fixity_checks")),
    )
    op.create_index("ix_fixity_checks_file_checked", "fixity_checks", ["file_id", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_fixity_checks_file_checked", table_name="fixity_checks")
    op.drop_table("fixity_checks")
    op.drop_index("ix_dataset_files_raw_key", table_name="dataset_files")
    op.drop_index("ix_dataset_files_fixity_checked_at", table_name="dataset_files")
    # plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of the table would
    # trip over the search triggers that name it
    for name in ("fixity_outcome", "fixity_checked_at"):
        op.execute(f"ALTER TABLE dataset_files DROP COLUMN {name}")
