"""keywords in each language, and search documents with every language-tagged value (issue 20)

dataset_keywords holds a dataset's keywords, each with its BCP 47 language and whether it is
a translation; a language may have many, a value once per language. Every existing keyword
(the JSON list `datasets.keywords`) is copied in, in order, as an original in the dataset's
original language (the language of its title's original, else `und`). The column stays: it
keeps the original keywords' values (as a title's column keeps its original), so going down
drops the table and loses only the keywords added in other languages since.

search_documents gains `texts`: the language-tagged values of the document's row that its
title and body do not hold (translations, names in other languages, keywords in each
language), read by server.search.documents.refresh, analysed with the document and shown in
a hit's highlight. Triggers on language_texts and dataset_keywords mark the owner's document
as without terms (SQLite: terms_title NULL; PostgreSQL: document NULL) so that the next
refresh reads them again. Every document is analysed again, both ways.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from server.search.documents import refresh

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UNDETERMINED = "und"
BATCH = 1000
# search_documents.kind -> (the owner column of language_texts, SQLite's id offset: 0006)
KINDS = {
    "project": ("project_id", 0),
    "dataset": ("dataset_id", 1),
    "institution": ("institution_id", 2),
    "researcher": ("researcher_id", 3),
}
keywords = sa.table(
    "dataset_keywords",
    sa.column("dataset_id", sa.Integer),
    sa.column("lang", sa.String),
    sa.column("value", sa.Text),
    sa.column("translated", sa.Boolean),
    sa.column("position", sa.Integer),
)


def upgrade() -> None:
    _create_keywords()
    _copy_keywords()
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_up()
    else:
        _postgres_up()
    refresh(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_down()
    else:
        _postgres_down()
    refresh(op.get_bind(), texts=False)
    op.drop_index("ix_dataset_keywords_dataset_id", table_name="dataset_keywords")
    op.drop_table("dataset_keywords")


# ---- keywords ----------------------------------------------------------------------------------


def _create_keywords() -> None:
    op.create_table(
        "dataset_keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("lang", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("translated", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_keywords_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_keywords")),
        sa.UniqueConstraint(
            "dataset_id", "lang", "value", name=op.f("uq_dataset_keywords_dataset_id_lang_value")
        ),
    )
    op.create_index("ix_dataset_keywords_dataset_id", "dataset_keywords", ["dataset_id"])


def _words(raw: Any) -> list[str]:
    """The keywords of a JSON list (text on SQLite, maybe parsed on PostgreSQL), each once."""
    listed = json.loads(raw) if isinstance(raw, str) else raw
    words: list[str] = []
    for item in listed if isinstance(listed, list) else []:
        if isinstance(item, str) and item.strip() and item not in words:
            words.append(item)
    return words


def _copy_keywords() -> None:
    bind = op.get_bind()
    languages: dict[int, str] = dict(
        bind.execute(
            sa.text(
                "SELECT dataset_id, lang FROM language_texts WHERE dataset_id IS NOT NULL"
                " AND field = 'title' AND original"
            )
        ).all()
    )
    rows = []
    for pk, raw in bind.execute(sa.text("SELECT id, keywords FROM datasets ORDER BY id")):
        lang = languages.get(pk, UNDETERMINED)
        rows += [
            {"dataset_id": pk, "lang": lang, "value": w, "translated": False, "position": i}
            for i, w in enumerate(_words(raw))
        ]
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(keywords, rows[start : start + BATCH])


# ---- search documents --------------------------------------------------------------------------


def _sqlite_ids(record: str, table: str) -> str:
    if table == "dataset_keywords":
        return f"{record}.dataset_id * 4 + 1"
    return ", ".join(f"{record}.{column} * 4 + {n}" for column, n in KINDS.values())


def _sqlite_stale(records: tuple[str, ...], table: str) -> str:
    ids = ", ".join(_sqlite_ids(r, table) for r in records)
    return (
        f"UPDATE search_documents SET terms_title = NULL WHERE id IN ({ids})"
        " AND terms_title IS NOT NULL;"
    )


_EVENTS = {"ai": ("INSERT", ("NEW",)), "au": ("UPDATE", ("OLD", "NEW")), "ad": ("DELETE", ("OLD",))}


def _sqlite_up() -> None:
    op.execute("ALTER TABLE search_documents ADD COLUMN texts TEXT")
    for table in ("language_texts", "dataset_keywords"):
        for suffix, (event, records) in _EVENTS.items():
            op.execute(
                f"CREATE TRIGGER search_{table}_{suffix} AFTER {event} ON {table} "
                f"BEGIN {_sqlite_stale(records, table)} END"
            )
    op.execute("UPDATE search_documents SET terms_title = NULL")


def _sqlite_down() -> None:
    for table in ("language_texts", "dataset_keywords"):
        for suffix in _EVENTS:
            op.execute(f"DROP TRIGGER search_{table}_{suffix}")
    op.execute("ALTER TABLE search_documents DROP COLUMN texts")
    op.execute("UPDATE search_documents SET terms_title = NULL")


def _pg_stale(record: str, table: str) -> str:
    if table == "dataset_keywords":
        owned = f"kind = 'dataset' AND ref_id = {record}.dataset_id"
    else:
        owned = " OR ".join(
            f"(kind = '{kind}' AND ref_id = {record}.{column})"
            for kind, (column, _) in KINDS.items()
        )
    return f"UPDATE search_documents SET document = NULL WHERE document IS NOT NULL AND ({owned});"


def _postgres_up() -> None:
    op.execute("ALTER TABLE search_documents ADD COLUMN texts text")
    for table in ("language_texts", "dataset_keywords"):
        op.execute(
            f"CREATE FUNCTION search_stale_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN "
            f"IF TG_OP <> 'INSERT' THEN {_pg_stale('OLD', table)} END IF; "
            f"IF TG_OP <> 'DELETE' THEN {_pg_stale('NEW', table)} END IF; "
            "RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER search_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION search_stale_{table}()"
        )
    op.execute("UPDATE search_documents SET document = NULL")


def _postgres_down() -> None:
    for table in ("language_texts", "dataset_keywords"):
        op.execute(f"DROP TRIGGER search_{table} ON {table}")
        op.execute(f"DROP FUNCTION search_stale_{table}()")
    op.execute("ALTER TABLE search_documents DROP COLUMN texts")
    op.execute("UPDATE search_documents SET document = NULL")
