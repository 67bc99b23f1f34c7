"""quarantine: uploads ClamAV finds infected end QUARANTINED, with the signature's name

The upload_state CHECK constraint (the enum is stored as a string, native_enum=False) gains
'quarantined', and uploads gain malware_signature. Downgrading turns quarantined uploads into
failed ones (error_code MALWARE_FOUND stays) before the constraint loses the state.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

STATES = (
    "awaiting_upload",
    "uploaded",
    "queued",
    "processing",
    "ready",
    "failed",
    "rejected",
    "aborted",
)
CHECK = "ck_uploads_upload_state"


def _states_check(states: tuple[str, ...]) -> str:
    return "state IN (" + ", ".join(f"'{s}'" for s in states) + ")"


def _replace_check(states: tuple[str, ...]) -> None:
    with op.batch_alter_table("uploads", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _states_check(states))


def upgrade() -> None:
    with op.batch_alter_table("uploads") as batch_op:
        batch_op.add_column(sa.Column("malware_signature", sa.String(length=255), nullable=True))
    _replace_check((*STATES, "quarantined"))


def downgrade() -> None:
    op.execute(
        "UPDATE uploads SET state = 'failed', error_code = COALESCE(error_code, 'MALWARE_FOUND')"
        " WHERE state = 'quarantined'"
    )
    _replace_check(STATES)
    with op.batch_alter_table("uploads") as batch_op:
        batch_op.drop_column("malware_signature")
