"""public records: each published version's place in the outward record (issue 21)

public_records has a row per published version that has been public (a public or embargoed
dataset in a project past approval): the datestamp OAI-PMH harvests by, whether it has been
withdrawn (deleted, kept for ever) and whether its files were public at that datestamp.
Existing public versions get a row stamped with their publication time (their files public
when the dataset is public, or its embargo has ended). Going down drops the table.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.core.db import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

PUBLIC_PHASES = (
    "approved",
    "planning",
    "implementation",
    "completed",
    "follow_up",
    "ex_post_evaluated",
)


def upgrade() -> None:
    op.create_table(
        "public_records",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("datestamp", UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("files_public", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_public_records_version_id_dataset_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_public_records_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_public_records")),
    )
    with op.batch_alter_table("public_records", schema=None) as batch_op:
        batch_op.create_index("ix_public_records_datestamp", ["datestamp", "version_id"])
        batch_op.create_index(op.f("ix_public_records_dataset_id"), ["dataset_id"])
    phases = ", ".join(f"'{p}'" for p in PUBLIC_PHASES)
    op.execute(
        f"""
        INSERT INTO public_records
            (version_id, dataset_id, datestamp, deleted, files_public, created_at)
        SELECT v.id, v.dataset_id, v.published_at, false,
               (d.access_level = 'public'
                OR (d.access_level = 'embargoed' AND d.embargo_until <= CURRENT_DATE)),
               CURRENT_TIMESTAMP
        FROM dataset_versions v
        JOIN datasets d ON d.id = v.dataset_id
        JOIN projects p ON p.id = d.project_id
        WHERE v.state = 'published'
          AND d.access_level IN ('public', 'embargoed')
          AND p.phase IN ({phases})
        """
    )


def downgrade() -> None:
    op.drop_table("public_records")
