"""more language texts: acronyms, courses, the design matrix, reports, evaluations (issue 20)

language_texts gains an owner column for each record whose text was still one untagged
string: a training course (title, outcome notes), a PDM element and an indicator
(description), a monitoring report and an evaluation (summary), a follow-up cooperation
(description) and a data use agreement (title); a foreign key each, deleted with its owner
(ON DELETE CASCADE), one value per owner, field and language (a unique constraint each), and
the one-owner CHECK counting them. An institution's acronym goes in under the institution's
own column. Every existing value is copied in as its field's original in `und`
(undetermined: nothing says which language it was written in). The owners' columns keep
their values (the originals), so going down deletes only these rows, and with them what was
added in other languages since.

SQLite changes the table by making it anew (alembic's batch copy), which drops the search
triggers 0019 put on it: they are read before and made again after.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

UNDETERMINED = "und"
BATCH = 1000
OLD_OWNERS = (
    "project_id",
    "institution_id",
    "researcher_id",
    "theme_id",
    "dataset_id",
    "material_id",
)
NEW_OWNERS = {
    "course_id": "training_courses",
    "pdm_element_id": "pdm_elements",
    "indicator_id": "indicators",
    "monitoring_report_id": "monitoring_reports",
    "evaluation_id": "evaluations",
    "follow_up_id": "follow_up_cooperations",
    "agreement_id": "data_use_agreements",
}
# (owner column, table, the fields copied in)
COPIED = (
    ("institution_id", "institutions", ("acronym",)),
    ("course_id", "training_courses", ("title", "outcome_notes")),
    ("pdm_element_id", "pdm_elements", ("description",)),
    ("indicator_id", "indicators", ("description",)),
    ("monitoring_report_id", "monitoring_reports", ("summary",)),
    ("evaluation_id", "evaluations", ("summary",)),
    ("follow_up_id", "follow_up_cooperations", ("description",)),
    ("agreement_id", "data_use_agreements", ("title",)),
)
CHECK = "ck_language_texts_one_owner"

texts = sa.table(
    "language_texts",
    *(sa.column(owner, sa.Integer) for owner in (*OLD_OWNERS, *NEW_OWNERS)),
    sa.column("field", sa.String),
    sa.column("lang", sa.String),
    sa.column("value", sa.Text),
    sa.column("original", sa.Boolean),
    sa.column("translated", sa.Boolean),
    sa.column("position", sa.Integer),
)


def _one_owner(owners: tuple[str, ...]) -> str:
    return " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in owners) + " = 1"


def _triggers() -> list[str]:
    """SQLite's triggers on language_texts (0019's), to make again after the batch copy."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    rows = bind.execute(
        sa.text(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger'"
            " AND tbl_name = 'language_texts' ORDER BY name"
        )
    )
    return [sql for (sql,) in rows]


def _make_again(triggers: list[str]) -> None:
    bind = op.get_bind()
    for sql in triggers:
        name = sql.split()[2]  # CREATE TRIGGER <name> ...
        exists = bind.execute(
            sa.text("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
            {"n": name},
        ).first()
        if exists is None:
            op.execute(sql)


def _copy() -> None:
    bind = op.get_bind()
    owners = (*OLD_OWNERS, *NEW_OWNERS)
    rows = []
    for owner, table, fields in COPIED:
        found = bind.execute(sa.text(f"SELECT id, {', '.join(fields)} FROM {table} ORDER BY id"))
        for pk, *values in found:
            for field, value in zip(fields, values, strict=True):
                if value is None or value == "":
                    continue
                rows.append(
                    {
                        **{column: pk if column == owner else None for column in owners},
                        "field": field,
                        "lang": UNDETERMINED,
                        "value": value,
                        "original": True,
                        "translated": False,
                        "position": 0,
                    }
                )
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(texts, rows[start : start + BATCH])


def upgrade() -> None:
    triggers = _triggers()
    with op.batch_alter_table("language_texts", recreate="auto") as batch_op:
        for owner, table in NEW_OWNERS.items():
            batch_op.add_column(sa.Column(owner, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                op.f(f"fk_language_texts_{owner}_{table}"),
                table,
                [owner],
                ["id"],
                ondelete="CASCADE",
            )
            batch_op.create_unique_constraint(
                op.f(f"uq_language_texts_{owner}_field_lang"), [owner, "field", "lang"]
            )
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), _one_owner((*OLD_OWNERS, *NEW_OWNERS)))
    for owner in NEW_OWNERS:
        op.create_index(f"ix_language_texts_{owner}", "language_texts", [owner])
    _make_again(triggers)
    _copy()


def downgrade() -> None:
    triggers = _triggers()
    news = " OR ".join(f"{owner} IS NOT NULL" for owner in NEW_OWNERS)
    op.execute(f"DELETE FROM language_texts WHERE {news}")
    op.execute("DELETE FROM language_texts WHERE institution_id IS NOT NULL AND field = 'acronym'")
    for owner in NEW_OWNERS:
        op.drop_index(f"ix_language_texts_{owner}", table_name="language_texts")
    with op.batch_alter_table("language_texts", recreate="auto") as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        for owner, table in NEW_OWNERS.items():
            batch_op.drop_constraint(op.f(f"uq_language_texts_{owner}_field_lang"), type_="unique")
            batch_op.drop_constraint(op.f(f"fk_language_texts_{owner}_{table}"), type_="foreignkey")
            batch_op.drop_column(owner)
        batch_op.create_check_constraint(op.f(CHECK), _one_owner(OLD_OWNERS))
    _make_again(triggers)
