"""folders: files and uploads keep their path inside the version

uploads and dataset_files gain `path` (up to 1,024 characters) and `path_key` (the sha256 of
the case-folded path, server.datasets.paths.path_key); a version's files are unique by
path_key instead of name, so two folders may each hold a `log.csv` but no two paths may
differ only by case. Every existing file keeps its name as its path. Names of one version
that already differed only by case (allowed before) are all kept: the lowest id takes the
real key, the others a key of their own id, so no row is lost and new uploads still clash.

Going down, a file's name becomes its path again when that fits 255 characters (else its id
and the path's end), so the old unique (version_id, name) holds; the columns are dropped.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD_UNIQUE = "uq_dataset_files_version_id_name"
NEW_UNIQUE = "uq_dataset_files_version_id_path_key"


def _key(path: str) -> str:  # server.datasets.paths.path_key, frozen here
    return hashlib.sha256(unicodedata.normalize("NFC", path.casefold()).encode()).hexdigest()


def _sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _add_columns(table: str) -> None:
    """SQLite adds NOT NULL columns with a default (no copy of the table: see _rebuild);
    PostgreSQL adds them nullable and requires them once filled."""
    if _sqlite():
        for name, length in (("path", 1024), ("path_key", 64)):
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {name} VARCHAR({length}) NOT NULL DEFAULT ''"
            )
        return
    op.add_column(table, sa.Column("path", sa.String(length=1024), nullable=True))
    op.add_column(table, sa.Column("path_key", sa.String(length=64), nullable=True))


def _fill(table: str, name: str) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(f"SELECT id, version_id, {name} FROM {table} ORDER BY id"))
    taken: set[tuple[int, str]] = set()
    values = []
    for row_id, version_id, value in rows.all():
        key = _key(value)
        if table == "dataset_files" and (version_id, key) in taken:
            key = hashlib.sha256(f"legacy case clash of file {row_id}".encode()).hexdigest()
        taken.add((version_id, key))
        values.append({"i": row_id, "p": value, "k": key})
    if values:
        conn.execute(sa.text(f"UPDATE {table} SET path = :p, path_key = :k WHERE id = :i"), values)
    if not _sqlite():
        op.alter_column(table, "path", existing_type=sa.String(length=1024), nullable=False)
        op.alter_column(table, "path_key", existing_type=sa.String(length=64), nullable=False)


@contextmanager
def _triggers_set_aside() -> Iterator[None]:
    """SQLite: dropping a table drops its triggers, and renaming one checks every trigger
    that names it (the search triggers); they are dropped first and made again after."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
            " AND sql LIKE '%dataset_files%'"
        )
    ).all()
    for name, _ in rows:
        op.execute(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in rows:
        op.execute(sql)


def _swap_unique(old: tuple[str, str], new: tuple[str, str]) -> None:
    """Replace dataset_files' unique (name, columns) `old` by `new`."""
    if not _sqlite():
        op.drop_constraint(old[0], "dataset_files", type_="unique")
        op.create_unique_constraint(new[0], "dataset_files", ["version_id", new[1]])
        return
    _rebuild(old, new)


def _rebuild(old: tuple[str, str], new: tuple[str, str]) -> None:
    """SQLite cannot drop a table's UNIQUE: the table is made again from its own CREATE
    statement (its column CHECKs as they are, unlike a batch copy, which 0011's downgrade
    could not drop column by column), copied, and put in the old one's place (foreign keys
    are off during migrations: server/migrations/env.py)."""
    conn = op.get_bind()
    create = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'dataset_files'")
    ).scalar_one()
    indexes = (
        conn.execute(
            sa.text(
                "SELECT sql FROM sqlite_master WHERE type = 'index'"
                " AND tbl_name = 'dataset_files' AND sql IS NOT NULL"
            )
        )
        .scalars()
        .all()
    )
    pattern = rf"CONSTRAINT {old[0]} UNIQUE \(version_id, {old[1]}\)"
    replacement = f"CONSTRAINT {new[0]} UNIQUE (version_id, {new[1]})"
    swapped, count = re.subn(pattern, replacement, create)
    if count != 1:
        raise RuntimeError(f"dataset_files has no {old[0]} to replace")
    swapped = re.sub(r'^CREATE TABLE "?dataset_files"?', "CREATE TABLE dataset_files_new", swapped)
    with _triggers_set_aside():
        op.execute(swapped)
        op.execute("INSERT INTO dataset_files_new SELECT * FROM dataset_files")
        op.execute("DROP TABLE dataset_files")
        op.execute("ALTER TABLE dataset_files_new RENAME TO dataset_files")
        for sql in indexes:
            op.execute(sql)


def upgrade() -> None:
    for table, name in (("uploads", "filename"), ("dataset_files", "name")):
        _add_columns(table)
        _fill(table, name)
    _swap_unique((OLD_UNIQUE, "name"), (NEW_UNIQUE, "path_key"))


def _old_name(row_id: int, path: str) -> str:
    return path if len(path) <= 255 else f"{row_id}~{path[-(254 - len(str(row_id))) :]}"


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, path FROM dataset_files")).all()
    if rows:
        conn.execute(
            sa.text("UPDATE dataset_files SET name = :n WHERE id = :i"),
            [{"i": i, "n": _old_name(i, p)} for i, p in rows],
        )
    _swap_unique((NEW_UNIQUE, "path_key"), (OLD_UNIQUE, "name"))
    for table in ("dataset_files", "uploads"):
        for name in ("path_key", "path"):
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
