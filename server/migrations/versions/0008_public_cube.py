"""public cube: the projects the public could see when the figures were materialised

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_public_projects",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_stats_public_projects")),
    )


def downgrade() -> None:
    op.drop_table("stats_public_projects")
