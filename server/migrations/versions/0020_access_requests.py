"""access requests, approvals, time-limited grants, data use agreements (issue 24, part A)

- accounts.role gains 'data_steward' (the account_role CHECK constraint): a data steward
  decides access requests for the datasets its institution owns.
- datasets gain partner_country_data (false for every existing row): partner-country data
  under a bilateral agreement, whose requests need the Japanese and the partner lead.
- access_requests (one open request per researcher and dataset: a partial unique index),
  access_approvals (one row per side), access_grants (read by the SQL access filters),
  data_use_agreements (a new version is a new row, with the Nagoya Protocol ABS
  references) and agreement_acceptances.

Going down drops the tables and the column; data stewards become researchers before the
constraint forbids the role again.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

ROLES = ("admin", "program_manager", "researcher", "institution_uploader")
CHECK = "ck_accounts_account_role"
STATUSES = ("pending", "approved", "denied", "withdrawn", "expired")
SIDES = ("japanese", "partner", "owner")
OPEN = sa.text("status = 'pending'")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def _replace_roles(roles: tuple[str, ...]) -> None:
    with op.batch_alter_table("accounts", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _in("role", roles))


def _account_fk(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), sa.ForeignKey("accounts.id", ondelete="SET NULL"))


def upgrade() -> None:
    _replace_roles((*ROLES, "data_steward"))
    # a plain ALTER on both (SQLite's batch copy would break the search triggers on datasets)
    op.add_column(
        "datasets",
        sa.Column("partner_country_data", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    _create_requests()
    _create_agreements()


def _create_requests() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer(),
            sa.ForeignKey("datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("researcher_id", sa.Integer(), sa.ForeignKey("researchers.id"), nullable=False),
        _account_fk("account_id"),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                *STATUSES,
                name="access_request_status",
                native_enum=False,
                length=32,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("dual", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("decided_by"),
        sa.Column("denial_reason", sa.Text(), nullable=True),
    )
    op.create_index(op.f("ix_access_requests_dataset_id"), "access_requests", ["dataset_id"])
    op.create_index(op.f("ix_access_requests_researcher_id"), "access_requests", ["researcher_id"])
    op.create_index(
        "uq_access_requests_open",
        "access_requests",
        ["dataset_id", "researcher_id"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "access_approvals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("access_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "side",
            sa.Enum(
                *SIDES, name="approval_side", native_enum=False, length=32, create_constraint=True
            ),
            nullable=False,
        ),
        _account_fk("account_id"),
        sa.Column("researcher_id", sa.Integer(), sa.ForeignKey("researchers.id")),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("request_id", "side"),
        sa.UniqueConstraint("request_id", "account_id"),
    )
    op.create_index(op.f("ix_access_approvals_request_id"), "access_approvals", ["request_id"])
    op.create_table(
        "access_grants",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "request_id",
            sa.Integer(),
            sa.ForeignKey("access_requests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "dataset_id",
            sa.Integer(),
            sa.ForeignKey("datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("researcher_id", sa.Integer(), sa.ForeignKey("researchers.id"), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _account_fk("revoked_by"),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("expiring_noticed_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index(
        "ix_access_grants_dataset_researcher", "access_grants", ["dataset_id", "researcher_id"]
    )
    op.create_index(op.f("ix_access_grants_researcher_id"), "access_grants", ["researcher_id"])


def _create_agreements() -> None:
    op.create_table(
        "data_use_agreements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "dataset_id",
            sa.Integer(),
            sa.ForeignKey("datasets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("abs_provider_country", sa.String(2), nullable=True),
        sa.Column("abs_pic_ref", sa.String(500), nullable=True),
        sa.Column("abs_mat_ref", sa.String(500), nullable=True),
        sa.Column("abs_ircc", sa.String(64), nullable=True),
        _account_fk("created_by"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dataset_id", "version"),
    )
    op.create_table(
        "agreement_acceptances",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "agreement_id",
            sa.Integer(),
            sa.ForeignKey("data_use_agreements.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("researcher_id", sa.Integer(), sa.ForeignKey("researchers.id"), nullable=False),
        _account_fk("account_id"),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("agreement_id", "researcher_id"),
    )
    op.create_index(
        "ix_agreement_acceptances_researcher",
        "agreement_acceptances",
        ["researcher_id", "agreement_id"],
    )


def downgrade() -> None:
    op.drop_table("agreement_acceptances")
    op.drop_table("data_use_agreements")
    op.drop_table("access_grants")
    op.drop_table("access_approvals")
    op.drop_table("access_requests")
    op.execute("ALTER TABLE datasets DROP COLUMN partner_country_data")  # SQLite 3.35+
    op.execute("UPDATE accounts SET role = 'researcher' WHERE role = 'data_steward'")
    _replace_roles(ROLES)
