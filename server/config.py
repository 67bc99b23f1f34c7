"""The one settings object. Nothing else in the code base reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
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
    s3_endpoint: str | None = Field(
        default=None,
        description="S3/MinIO endpoint host:port; when unset, objects live under object_dir",
    )
    s3_access_key: str = Field(default="", description="S3 access key")
    s3_secret_key: SecretStr = Field(default=SecretStr(""), description="S3 secret key")
    s3_secure: bool = Field(default=True, description="Use HTTPS for S3")
    s3_region: str = Field(
        default="us-east-1", description="S3 region (fixed: presigning needs no call)"
    )
    bucket_raw: str = Field(
        default="satreps-raw", description="Bucket for raw uploads (object lock where supported)"
    )
    bucket_artifacts: str = Field(
        default="satreps-artifacts", description="Bucket for derived artifacts"
    )
    bucket_provenance: str = Field(
        default="satreps-provenance", description="Bucket for provenance documents"
    )
    raw_retention_days: int = Field(
        default=365, description="GOVERNANCE retention of raw objects in days (0: lock, no default)"
    )
    storage_workers: int = Field(default=8, description="Threads for object-store I/O")
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for arq workers and events; when unset, jobs run in-process",
    )
    inprocess_jobs: int = Field(
        default=2, description="Jobs run at once inside `satreps serve` when no Redis is set"
    )
    upload_lease_seconds: float = Field(
        default=20.0,
        gt=0,
        description="A worker's hold on an upload without a heartbeat (renewed every third)",
    )
    upload_stale_queued_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long an upload waits QUEUED before the reconciler queues it again",
    )
    max_upload_bytes: int = Field(
        default=50 * 1024**3, description="Largest accepted upload, in bytes"
    )
    max_api_upload_bytes: int = Field(
        default=100 * 1024**2,
        description="Largest file sent through the API (GraphQL multipart); larger: startUpload",
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
        if isinstance(default, SecretStr):
            default = "" if not default.get_secret_value() else "(secret)"
        shown = str(default) if not isinstance(default, bool) else str(default).lower()
        rows.append(f"| `{prefix}{name.upper()}` | `{shown}` | {info.description or ''} |")
    return "\n".join(rows) + "\n"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
