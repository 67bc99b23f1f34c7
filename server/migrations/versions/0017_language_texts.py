"""language texts: names, titles, acronyms and summaries in each language (issue 20)

language_texts holds a field's value in each BCP 47 language, for a project (title, acronym,
summary), an institution or a researcher (name), a theme (name, description) or a dataset
(title, description). Every existing value is copied in as its field's original: projects'
titles, acronyms and summaries in `und` (undetermined: nothing says which language they were
written in); an institution's `name_en` in `en` (the column is its English name), and its
`name_local`, when it has one, in the official language of its country where that is one
language (JP ja, TH th, VN vi, ID id, ...; else `und`) as the original; a researcher's
likewise (`nameEn` in `en`, `nameLocal` in `und`: a person has no country here); a theme's
name in `en` when it is still one of the six 0001 seeded in English, else `und`, its
description in `und`; a dataset's title and description in `und`; a learning material's
title in the material's language (its ISO 639 code). The owners' columns keep their values
(the originals), so downgrading drops the table and loses only what was added in other
languages since.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from server.core.languages import (
    ENGLISH,
    UNDETERMINED,
    LanguageError,
    local_language,
    standard_tag,
)

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

OWNERS = ("project_id", "institution_id", "researcher_id", "theme_id", "dataset_id", "material_id")
OWNER_TABLES = {
    "project_id": "projects",
    "institution_id": "institutions",
    "researcher_id": "researchers",
    "theme_id": "themes",
    "dataset_id": "datasets",
    "material_id": "learning_materials",
}
# the themes 0001 seeds, in English: a theme that still has its seeded name is in `en`
SEEDED_THEMES = {
    "environment-energy": "Environment and Energy",
    "global-environment": "Global-scale Environmental Issues",
    "carbon-neutral-energy": "Carbon Neutral Society / Energy",
    "bioresources": "Bioresources",
    "disaster-prevention": "Disaster Prevention and Mitigation",
    "infectious-diseases": "Infectious Diseases Control",
}
ONE_OWNER = " + ".join(f"(CASE WHEN {c} IS NULL THEN 0 ELSE 1 END)" for c in OWNERS) + " = 1"
BATCH = 1000

texts = sa.table(
    "language_texts",
    sa.column("project_id", sa.Integer),
    sa.column("institution_id", sa.Integer),
    sa.column("researcher_id", sa.Integer),
    sa.column("theme_id", sa.Integer),
    sa.column("dataset_id", sa.Integer),
    sa.column("material_id", sa.Integer),
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
        *(sa.Column(owner, sa.Integer(), nullable=True) for owner in OWNERS),
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
        *(
            sa.ForeignKeyConstraint(
                [owner],
                [f"{table}.id"],
                name=op.f(f"fk_language_texts_{owner}_{table}"),
                ondelete="CASCADE",
            )
            for owner, table in OWNER_TABLES.items()
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_language_texts")),
        *(
            sa.UniqueConstraint(
                owner, "field", "lang", name=op.f(f"uq_language_texts_{owner}_field_lang")
            )
            for owner in OWNERS
        ),
    )
    for owner in OWNERS:
        op.create_index(f"ix_language_texts_{owner}", "language_texts", [owner])


def _text(owner: str, owner_id: int, field: str, lang: str, value: str, position: int) -> Any:
    return {
        **{column: owner_id if column == f"{owner}_id" else None for column in OWNERS},
        "field": field,
        "lang": lang,
        "value": value,
        "original": position == 0,
        "translated": False,
        "position": position,
    }


def _undetermined(owner: str, table: str, fields: tuple[str, ...], bind: Any) -> list[Any]:
    """Each value of `fields` of the table's rows, as its field's original in `und`."""
    rows = bind.execute(sa.text(f"SELECT id, {', '.join(fields)} FROM {table} ORDER BY id"))
    out = []
    for pk, *values in rows:
        for field, value in zip(fields, values, strict=True):
            if value is not None and value != "":
                out.append(_text(owner, pk, field, UNDETERMINED, value, 0))
    return out


def _names(owner: str, sql: str, bind: Any) -> list[Any]:
    """The local name (in the country's language, when known) as the original, then the
    English name."""
    out = []
    for pk, name_en, name_local, country in bind.execute(sa.text(sql)):
        names = []
        if name_local:
            local = local_language(country)
            names.append((UNDETERMINED if local == ENGLISH else local, name_local))
        if name_en:
            names.append((ENGLISH, name_en))
        out += [_text(owner, pk, "name", lang, v, i) for i, (lang, v) in enumerate(names)]
    return out


def _material_texts(bind: Any) -> list[Any]:
    """A learning material's title in the material's language (an ISO 639 code: a BCP 47
    tag), `und` where that is not a registered language."""
    out = []
    for pk, title, language in bind.execute(
        sa.text("SELECT id, title, language FROM learning_materials ORDER BY id")
    ):
        try:
            lang = standard_tag(language or "")
        except LanguageError:
            lang = UNDETERMINED
        if title:
            out.append(_text("material", pk, "title", lang, title, 0))
    return out


def _theme_texts(bind: Any) -> list[Any]:
    out = []
    for pk, code, name, description in bind.execute(
        sa.text("SELECT id, code, name, description FROM themes ORDER BY id")
    ):
        seeded = SEEDED_THEMES.get(code) == name
        if name:
            out.append(_text("theme", pk, "name", ENGLISH if seeded else UNDETERMINED, name, 0))
        if description:
            out.append(_text("theme", pk, "description", UNDETERMINED, description, 0))
    return out


def upgrade() -> None:
    _create_table()
    bind = op.get_bind()
    rows = [
        *_undetermined("project", "projects", ("title", "acronym", "summary"), bind),
        *_undetermined("dataset", "datasets", ("title", "description"), bind),
        *_names(
            "institution",
            "SELECT id, name_en, name_local, country_code FROM institutions ORDER BY id",
            bind,
        ),
        *_names(
            "researcher",
            "SELECT id, name_en, name_local, NULL FROM researchers ORDER BY id",
            bind,
        ),
        *_theme_texts(bind),
        *_material_texts(bind),
    ]
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(texts, rows[start : start + BATCH])


def downgrade() -> None:
    for owner in OWNERS:
        op.drop_index(f"ix_language_texts_{owner}", table_name="language_texts")
    op.drop_table("language_texts")
