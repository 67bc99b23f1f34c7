"""uploads.store_sha256: the object store's own sha256 of a received object, read at
completion

`startUploads` signs a declared sha256 into a single PUT's presigned URL, so the store
refuses other bytes and keeps its checksum. `completeUploads` reads that checksum with the
HEAD it makes anyway; the worker's known pass then takes it from the row instead of asking
the store a second time.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("uploads", sa.Column("store_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("store_sha256")
