"""equipment by currency: the materialised equipment value per ISO 4217 currency (a sum
across currencies means nothing); the cube is emptied so the next refresh rebuilds it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _forget_figures() -> None:
    """The cube's figures are in the old shape: until the next refresh (a minute at most)
    the live queries answer, as before the first refresh."""
    op.execute("DELETE FROM stats_cube")
    op.execute("DELETE FROM stats_projects")
    op.execute("DELETE FROM stats_refreshes")


def upgrade() -> None:
    op.create_table(
        "stats_project_equipment",
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("value", sa.Numeric(18, 2), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "currency", name=op.f("pk_stats_project_equipment")),
    )
    _forget_figures()
    with op.batch_alter_table("stats_projects") as batch_op:
        batch_op.drop_column("equipment_value")


def downgrade() -> None:
    _forget_figures()
    with op.batch_alter_table("stats_projects") as batch_op:
        batch_op.add_column(
            sa.Column("equipment_value", sa.Numeric(18, 2), nullable=False, server_default="0")
        )
    op.drop_table("stats_project_equipment")
