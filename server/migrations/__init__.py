"""Alembic migrations, run through `satreps migrate` (or at start-up when embedded)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

HERE = Path(__file__).parent


def alembic_config(database_url: str, *, pgbouncer: bool = False) -> Config:
    cfg = Config()
    cfg.attributes["pgbouncer"] = pgbouncer
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "heads", *, pgbouncer: bool = False) -> None:
    command.upgrade(alembic_config(database_url, pgbouncer=pgbouncer), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
