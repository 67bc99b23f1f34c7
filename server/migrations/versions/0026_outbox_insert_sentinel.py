"""notification_outbox: an insert sentinel, so that a flush of many events is one INSERT

Every state change of an upload writes its outbox row in the change's transaction: a folder
of N files flushes about 2N rows. SQLAlchemy inserts such rows one statement each on
SQLite, where nothing ties the ids it generates to the order of the rows of a multi-row
INSERT ... RETURNING; a sentinel column numbered per statement does (SQLAlchemy's
"insertmanyvalues" sentinel). Its values mean nothing once the rows are in.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notification_outbox", sa.Column("_sentinel", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("_sentinel")
