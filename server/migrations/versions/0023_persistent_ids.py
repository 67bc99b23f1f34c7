"""persistent identifiers: version DOIs and concept DOIs, an outbox for DataCite (issue 21)

persistent_ids has a row per public record's version (version_id set) and per dataset with
a public record (its concept identifier, version_id null): the scheme (`doi` through
DataCite, `local` without a registry), the value, the state at the registry (draft,
registered, findable, failed with a reason) and the outbox columns of the registration job
(needs_push, revision, attempts, next_attempt_at, claimed_until). Rows for records published
before this revision are written by the job's first round (server.publishing.pids), with the
scheme the settings give. Going down drops the table.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.core.db import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "persistent_ids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("remote", sa.Boolean(), nullable=False),
        sa.Column("needs_push", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_persistent_ids_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_persistent_ids_version_id_dataset_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persistent_ids")),
        sa.UniqueConstraint("scheme", "value", name=op.f("uq_persistent_ids_scheme_value")),
        sa.UniqueConstraint("version_id", name=op.f("uq_persistent_ids_version_id")),
    )
    with op.batch_alter_table("persistent_ids", schema=None) as batch_op:
        batch_op.create_index("ix_persistent_ids_due", ["needs_push", "next_attempt_at"])
        batch_op.create_index(op.f("ix_persistent_ids_dataset_id"), ["dataset_id"])


def downgrade() -> None:
    op.drop_table("persistent_ids")
