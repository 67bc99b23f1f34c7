"""The one settings object. Nothing else in the code base reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SATREPS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/satreps.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    object_dir: Path = Field(
        default=Path("./var/objects"), description="Local object store directory (embedded mode)"
    )
    auto_migrate: bool = Field(
        default=True, description="Apply Alembic migrations when `satreps serve` starts"
    )
    graphiql: bool = Field(default=True, description="Serve GraphiQL on GET /graphql")
    max_body_bytes: int = Field(
        default=1_048_576, description="Largest accepted GraphQL request body, in bytes"
    )
    token_ttl_days: int = Field(default=90, description="Default lifetime of new API tokens")
    db_pool_size: int = Field(default=10, description="Connection pool size (PostgreSQL)")
    sql_echo: bool = Field(default=False, description="Log every SQL statement")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def settings_table() -> str:
    """The settings as a Markdown table, for the README (generated, never written twice)."""
    prefix = Settings.model_config.get("env_prefix", "")
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = str(default) if not isinstance(default, bool) else str(default).lower()
        rows.append(f"| `{prefix}{name.upper()}` | `{shown}` | {info.description or ''} |")
    return "\n".join(rows) + "\n"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
