"""language texts: names, titles, acronyms and summaries in each language (issue 20)

language_texts holds a field's value in each BCP 47 language, for a project (title, acronym,
summary) or an institution (name). Every existing value is copied in as its field's
original: projects' titles, acronyms and summaries in `und` (undetermined: nothing says
which language they were written in); an institution's `name_en` in `en` (the column is
its English name), and its `name_local`, when it has one, in the official language of
its country where that is one language (JP ja, TH th, VN vi, ID id, ...; else `und`) as
the original. The owners' columns keep their values (the originals), so downgrading
drops the table and loses only what was added in other languages since.

Revision ID: 0017
Revises: 0015 (0016 is taken in parallel: the chain is set when both merge)
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from server.core.languages import ENGLISH, UNDETERMINED, local_language

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

OWNERS = ("project_id", "institution_id")
ONE_OWNER = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in OWNERS) + " = 1"
BATCH = 1000

texts = sa.table(
    "language_texts",
    sa.column("project_id", sa.Integer),
    sa.column("institution_id", sa.Integer),
    sa.column("field", sa.String),
    sa.column("lang", sa.String),
    sa.column("value", sa.Text),
    sa.column("original", sa.Boolean),
    sa.column("translated", sa.Boolean),
    sa.column("position", sa.Integer),
)


def _create_table() -> None:
    op.create_table(
        "language_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("institution_id", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=32), nullable=False),
        sa.Column("lang", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("original", sa.Boolean(), nullable=False),
        sa.Column("translated", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(ONE_OWNER, name=op.f("ck_language_texts_one_owner")),
        sa.CheckConstraint(
            "NOT (original AND translated)", name=op.f("ck_language_texts_original_not_translated")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_language_texts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name=op.f("fk_language_texts_institution_id_institutions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_language_texts")),
        sa.UniqueConstraint(
            "project_id", "field", "lang", name=op.f("uq_language_texts_project_id_field_lang")
        ),
        sa.UniqueConstraint(
            "institution_id",
            "field",
            "lang",
            name=op.f("uq_language_texts_institution_id_field_lang"),
        ),
    )
    op.create_index("ix_language_texts_project_id", "language_texts", ["project_id"])
    op.create_index("ix_language_texts_institution_id", "language_texts", ["institution_id"])


def _text(owner: str, owner_id: int, field: str, lang: str, value: str, position: int) -> Any:
    return {
        "project_id": owner_id if owner == "project" else None,
        "institution_id": owner_id if owner == "institution" else None,
        "field": field,
        "lang": lang,
        "value": value,
        "original": position == 0,
        "translated": False,
        "position": position,
    }


def _project_texts(bind: Any) -> list[Any]:
    rows = bind.execute(sa.text("SELECT id, title, acronym, summary FROM projects ORDER BY id"))
    out = []
    for pid, *values in rows:
        for field, value in zip(("title", "acronym", "summary"), values, strict=True):
            if value is not None and value != "":
                out.append(_text("project", pid, field, UNDETERMINED, value, 0))
    return out


def _institution_texts(bind: Any) -> list[Any]:
    rows = bind.execute(
        sa.text("SELECT id, name_en, name_local, country_code FROM institutions ORDER BY id")
    )
    out = []
    for iid, name_en, name_local, country in rows:
        names = []
        if name_local:
            local = local_language(country)
            names.append((UNDETERMINED if local == ENGLISH else local, name_local))
        if name_en:
            names.append((ENGLISH, name_en))
        out += [_text("institution", iid, "name", lang, v, i) for i, (lang, v) in enumerate(names)]
    return out


def upgrade() -> None:
    _create_table()
    bind = op.get_bind()
    rows = _project_texts(bind) + _institution_texts(bind)
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(texts, rows[start : start + BATCH])


def downgrade() -> None:
    op.drop_index("ix_language_texts_institution_id", table_name="language_texts")
    op.drop_index("ix_language_texts_project_id", table_name="language_texts")
    op.drop_table("language_texts")
