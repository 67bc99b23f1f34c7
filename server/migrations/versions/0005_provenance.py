"""provenance: W3C PROV nodes and typed edges

Revision ID: 0005
Revises: 0004 (written beside 0004 on 0003; put after it as one line of history)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

KINDS = ("entity", "activity", "agent")
RELATIONS = (
    "used",
    "wasGeneratedBy",
    "wasDerivedFrom",
    "wasAttributedTo",
    "wasAssociatedWith",
    "actedOnBehalfOf",
    "wasInformedBy",
    "specializationOf",
)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    op.create_table(
        "prov_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", _enum(KINDS, "prov_kind"), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=True),
        sa.Column("dataset_id", sa.Integer(), nullable=True),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_prov_nodes_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_prov_nodes_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_nodes")),
        sa.UniqueConstraint("key", name=op.f("uq_prov_nodes_key")),
    )
    with op.batch_alter_table("prov_nodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_prov_nodes_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_prov_nodes_project_id"), ["project_id"], unique=False)

    op.create_table(
        "prov_edges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("relation", _enum(RELATIONS, "prov_relation"), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("object_id", sa.Integer(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"],
            ["prov_nodes.id"],
            name=op.f("fk_prov_edges_object_id_prov_nodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["prov_nodes.id"],
            name=op.f("fk_prov_edges_subject_id_prov_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prov_edges")),
        sa.UniqueConstraint(
            "subject_id",
            "object_id",
            "relation",
            name=op.f("uq_prov_edges_subject_id_object_id_relation"),
        ),
    )
    with op.batch_alter_table("prov_edges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_prov_edges_object_subject", ["object_id", "subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("prov_edges", schema=None) as batch_op:
        batch_op.drop_index("ix_prov_edges_object_subject")
    op.drop_table("prov_edges")
    with op.batch_alter_table("prov_nodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_prov_nodes_project_id"))
        batch_op.drop_index(batch_op.f("ix_prov_nodes_dataset_id"))
    op.drop_table("prov_nodes")
