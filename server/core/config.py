"""The one settings object. Nothing else in the code base reads the environment."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_REDIS_PREFIX = "satreps:"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SATREPS_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/satreps.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    object_dir: Path = Field(
        default=Path("./var/objects"), description="Local object store directory (embedded mode)"
    )
    work_dir: Path | None = Field(
        default=None,
        description="Workers' scratch directory (spools of files the format readers need on "
        "disk, extractor outputs); default <object_dir>/.satreps/work. A fast local disk; "
        "in Kubernetes an emptyDir",
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
    s3_put_checksums: bool = Field(
        default=True,
        description="Presigned PUTs carry the declared sha256 for the store to check (S3 checksum)",
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
    prov_copy_window_seconds: float = Field(
        default=5.0,
        ge=0,
        description="READY uploads of a version within this window share one rewrite of its"
        " PROV/RO-Crate bucket copies, written once no upload of the version has changed for"
        " a window (0: rewrite after each)",
    )
    prov_namespace: str = Field(
        default="https://satreps-hub.example/prov/",
        pattern=r"^https?://\S+[/#]$",
        description="Base IRI of the ids in provenance exports (PROV, RO-Crate); ends in / or #",
    )
    raw_retention_days: int = Field(
        default=365,
        ge=0,
        description="Default retention of raw objects in days (0: lock, no default retention)",
    )
    raw_retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        default="GOVERNANCE",
        description="Object-lock mode of the raw bucket's default retention: GOVERNANCE can be"
        " shortened or bypassed by an account with s3:BypassGovernanceRetention; COMPLIANCE by"
        " no one, root included, until it expires",
    )
    storage_workers: int = Field(
        default=0,
        ge=0,
        description="Threads for object-store I/O (0: 8 for S3; 2 for the local directory, "
        "whose small writes pass the GIL to and from the event loop at each system call: a "
        "folder of 10,000 small files went 194 files/s with 8, 207-211 with 2)",
    )
    fixity_every_days: float = Field(
        default=30.0,
        ge=0,
        description="Scheduled fixity: re-hash each raw object once its last check (or, never"
        " checked, its ingest) is this many days old, never-checked ones first (0: no"
        " scheduled checks)",
    )
    fixity_bytes_per_second: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="Most bytes per second the scheduled fixity check reads, per process"
        " (a token bucket: it leaves the disk and CPU to ingest)",
    )
    fixity_run_seconds: float = Field(
        default=50.0,
        gt=0,
        description="How long one scheduled fixity run (one a minute) may go on reading",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL for arq workers and events; when unset, jobs run in-process",
    )
    redis_prefix: str = Field(
        default=DEFAULT_REDIS_PREFIX,
        min_length=1,
        max_length=64,
        pattern=r"^[^\s*?\[\]]+$",
        description="Prefix of every Redis name of this deployment: its keys (rate limits),"
        " pub/sub channels, arq queue and job ids. Give each deployment sharing a Redis its own;"
        " the default keeps earlier releases' names",
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
    upload_batch_max_bytes: int = Field(
        default=64 * 1024**2,
        ge=0,
        description="Uploads up to this size completed together are processed in batches (one"
        " job, one transaction, one PROV activity per batch, at most this many bytes); a larger"
        " one keeps its own job (0: every upload its own job). The default is the CLI's"
        " largest single PUT",
    )
    upload_batch_files: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="At most this many small uploads of one version in one batch job",
    )
    max_upload_bytes: int = Field(
        default=50 * 1024**3, description="Largest accepted upload, in bytes"
    )
    scan_uploads: bool = Field(
        default=False,
        description="Scan every upload with ClamAV (clamd) before it can become READY; "
        "an infected file ends QUARANTINED",
    )
    clamd_address: str = Field(
        default="127.0.0.1:3310", description="clamd's TCP address host:port (TCPSocket)"
    )
    scan_max_bytes: int = Field(
        default=100 * 1024**2,
        gt=0,
        description="Largest file scanned (keep it at most clamd's StreamMaxLength); "
        "a larger upload fails with SCAN_TOO_LARGE",
    )
    scan_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="How long clamd may take over a file once it has all of it (longer: "
        "SCAN_TIMEOUT), or stall mid-stream (then it counts as away: the upload waits)",
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
    access_request_ttl_days: float = Field(
        default=30,
        gt=0,
        description="How long an access request waits for its decision before it expires",
    )
    access_grant_days: int = Field(
        default=180,
        ge=1,
        description="How long an approved access request's grant lasts when the approver gives"
        " no end date; also the longest an approver may give",
    )
    access_grant_notice_days: int = Field(
        default=14,
        ge=0,
        description="The access sweep announces a grant's coming end this many days before",
    )
    graphql_introspection: bool = Field(
        default=True, description="Answer introspection queries (`__schema`, `__type`)"
    )
    field_suggestions: bool = Field(
        default=True, description="'Did you mean ...?' hints in errors (turn off in production)"
    )
    compiled_reads: bool = Field(
        default=True,
        description="Answer the root fields of read-only queries that map to the model with"
        " one SQL statement each, built as JSON by the database (off: every field through"
        " strawberry's resolvers)",
    )
    max_query_depth: int = Field(default=12, ge=1, description="Deepest selection nesting")
    max_query_tokens: int = Field(
        default=2000, ge=1, description="Most lexical tokens in one GraphQL document"
    )
    max_query_aliases: int = Field(default=30, ge=0, description="Most aliases in one document")
    max_query_cost: int = Field(
        default=50_000,
        ge=1,
        description="Most nodes one query may ask for, counted before execution "
        "(connections count their `first`, plain lists 10)",
    )
    rate_limit_points: int = Field(
        default=5000,
        ge=0,
        le=2**31 - 1,  # rateLimit reports it as a GraphQL Int (32-bit)
        description="Points per hour for each signed-in account; a query costs its nodes / 100,"
        " at least 1 (0: no limit)",
    )
    rate_limit_anonymous_points: int = Field(
        default=1000,
        ge=0,
        le=2**31 - 1,  # rateLimit reports it as a GraphQL Int (32-bit)
        description="Points per hour for each anonymous client address (0: no limit)",
    )
    apq_cache_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="Automatic persisted queries: bytes of document text kept in each "
        "process, least recently used out (0: APQ off)",
    )
    trusted_documents: Path | None = Field(
        default=None,
        description="Trusted documents, callable by their sha256: a directory of .graphql "
        "files or a JSON manifest (Apollo's persisted-query manifest or {sha256: text})",
    )
    trusted_documents_only: bool = Field(
        default=False,
        description="Run only the trusted documents (production): other text is refused "
        "with PERSISTED_QUERY_NOT_IN_LIST",
    )
    get_cache_max_age: int = Field(
        default=60,
        ge=0,
        description="Cache-Control max-age (seconds) of anonymous GET query answers; a "
        "token's answers are private, no-store",
    )
    execution_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest a query or mutation may run"
    )
    max_subscriptions_per_connection: int = Field(
        default=10, ge=1, description="Operations at once on one WebSocket"
    )
    download_url_minutes: int = Field(
        default=5, ge=1, le=60, description="Lifetime of a dataset file's download URL"
    )
    oidc_issuer: str | None = Field(
        default=None, description="Accept JWTs from this OpenID Connect issuer (`iss`)"
    )
    oidc_jwks_url: str | None = Field(
        default=None, description="The issuer's JWKS (signing keys) URL; http(s) or file"
    )
    oidc_audience: str | None = Field(
        default=None, description="Required `aud` of OIDC tokens (unset: not checked)"
    )
    oidc_username_claim: str = Field(
        default="preferred_username", description="Claim naming the account of a new identity"
    )
    oidc_role_claim: str = Field(
        default="satreps_role", description="Claim with the role of a new identity's account"
    )
    oidc_default_role: str = Field(
        default="researcher", description="Role of a new identity's account without the claim"
    )
    oidc_jwks_cache_seconds: int = Field(
        default=300, ge=0, description="How long fetched signing keys are kept"
    )
    datacite_url: str = Field(
        default="https://api.datacite.org",
        description="DataCite REST API (https://api.test.datacite.org for the test system)",
    )
    datacite_prefix: str | None = Field(
        default=None,
        description="DOI prefix of the repository (10.xxxx); unset: local identifiers "
        "(satreps:7.v1 for version 1 of dataset 7), no DataCite",
    )
    datacite_username: str | None = Field(
        default=None, description="DataCite repository ID (basic auth)"
    )
    datacite_password: SecretStr = Field(
        default=SecretStr(""), description="DataCite repository password"
    )
    datacite_funders: Annotated[list[str], NoDecode] = Field(
        default=[
            "Japan Science and Technology Agency=https://www.jst.go.jp/",
            "Japan International Cooperation Agency=https://www.jica.go.jp/",
        ],
        description="The funders every published version names (DataCite's funding "
        "references, schema.org's funder), comma-separated, each `Name` or `Name=identifier` "
        "(a ROR URL, a Crossref Funder ID URL, or the funder's site); default SATREPS's two",
    )
    backup_bucket: str | None = Field(
        default=None,
        description="S3 bucket `satreps backup` copies the objects into (each copy read back "
        "and verified); unset, or on the local store: into the backup directory",
    )
    db_pool_size: int = Field(
        default=10,
        description="Connections kept open (PostgreSQL; SQLite also opens as many again when busy)",
    )
    db_pgbouncer: bool = Field(
        default=False,
        description="The database URL names PgBouncer in transaction pooling mode: no "
        "statement caches, a unique name for every prepared statement",
    )
    sql_echo: bool = Field(default=False, description="Log every SQL statement")
    log_format: Literal["json", "text"] = Field(
        default="json", description="Log lines as JSON objects (one per line) or plain text"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Lowest level logged"
    )
    serve_processes: int = Field(
        default=0,
        ge=0,
        description="Processes `satreps serve` runs (0: one per CPU this process may use when "
        "the database is PostgreSQL and Redis is set, else one: SQLite has one writer and "
        "in-process jobs and rate limits live in one process); `--workers` overrides",
    )
    gc_tuning: bool = Field(
        default=True,
        description="Once `satreps serve` or `satreps worker` has started, move what start-up "
        "built to the garbage collector's permanent generation and collect young objects "
        "every 50,000 allocations, not 700 (server/core/heap.py)",
    )
    shutdown_grace_seconds: int = Field(
        default=25,
        ge=0,
        description="On SIGTERM the API stops accepting, then waits this long for requests "
        "and WebSockets to finish",
    )
    worker_shutdown_grace_seconds: int = Field(
        default=20,
        ge=0,
        description="On SIGTERM a worker takes no new job and lets running ones finish this "
        "long; then it hands them back at once (0: hand back at once)",
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of `satreps worker`'s Prometheus /metrics (0: off)",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Interface of the worker's /metrics (0.0.0.0 in pods)"
    )
    extractor_cpu_seconds: int = Field(
        default=300,
        ge=1,
        description="CPU time a native format reader (NetCDF, HDF5, spreadsheets) may spend on "
        "one file in its child process (EXTRACTOR_TIMEOUT past it)",
    )
    extractor_memory_mb: int = Field(
        default=2048,
        ge=256,
        description="Address space of that child process, in MiB (TOO_COMPLEX past it)",
    )
    extractor_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Wall-clock time for one file's native reader (EXTRACTOR_TIMEOUT past it)",
    )

    notify_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a notification dispatcher looks for outbox rows to fan out and"
        " deliveries that are due (the database is the queue; a kick after a commit comes sooner)",
    )
    notify_claim_seconds: float = Field(
        default=60.0,
        gt=0,
        description="A dispatcher's hold on a claimed delivery: one killed mid-delivery lets"
        " another deliver it (same delivery id) once this has passed",
    )
    notify_batch: int = Field(
        default=100, ge=1, le=10_000, description="Most deliveries one dispatcher claims at once"
    )
    notify_concurrency: int = Field(
        default=20, ge=1, le=1000, description="Deliveries one dispatcher sends at once"
    )
    webhook_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest one webhook request may take, connect to last byte (a receiver"
        " that hangs fails the attempt with TIMEOUT and blocks no other delivery)",
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts of one webhook delivery before it fails"
    )
    webhook_backoff_seconds: float = Field(
        default=10.0,
        gt=0,
        description="First retry delay of a failed delivery; doubled at each attempt, with up"
        " to 50% random jitter added, at most webhook_backoff_max_seconds",
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, gt=0, description="Longest delay between two attempts of a delivery"
    )
    webhook_disable_after: int = Field(
        default=20,
        ge=1,
        description="A subscription whose attempts failed this many times in a row is disabled"
        " (disabledReason set, its creator notified by the webhook.disabled event)",
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs that resolve to private, loopback, link-local or other"
        " non-public addresses (tests and closed networks only: server-side request forgery)",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server of notification e-mail (unset: no e-mail sent)"
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP port")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        description="SMTP transport security: STARTTLS upgrade, implicit TLS (port 465), none",
    )
    smtp_username: str | None = Field(default=None, description="SMTP login (unset: none)")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP password")
    smtp_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest one SMTP conversation may take"
    )
    mail_from: str = Field(
        default="SATREPS Hub <noreply@satreps-hub.example>",
        description="From address of notification e-mail",
    )
    email_max_attempts: int = Field(
        default=5, ge=1, le=100, description="Attempts of one e-mail before it fails"
    )
    email_default_mode: Literal["each", "digest", "none"] = Field(
        default="each",
        description="Notification e-mail of an account that set no preference: each event,"
        " a daily digest, or none",
    )
    digest_hour_utc: int = Field(
        default=7, ge=0, le=23, description="Hour (UTC) the daily digest e-mails go out"
    )

    public_base_url: str | None = Field(
        default=None,
        description="The server's public URL (scheme://host[:port][/prefix]), the base of every "
        "URL it hands out; unset: taken from each request (Host, or X-Forwarded-* of a trusted "
        "proxy)",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=["127.0.0.1", "::1"],
        description="Addresses or CIDRs (comma-separated; * for any) of reverse proxies whose "
        "X-Forwarded-For/-Proto/-Host/-Prefix headers are believed",
    )

    oai_repository_name: str = Field(
        default="SATREPS Hub", description="OAI-PMH: the repository's name (Identify)"
    )
    oai_admin_email: str = Field(
        default="admin@satreps-hub.example",
        description="OAI-PMH: the address of the repository's administrator (Identify)",
    )
    oai_repository_identifier: str | None = Field(
        default=None,
        description="OAI-PMH: the namespace of record identifiers (oai:<it>:version-<id>); "
        "unset: the host of the public base URL",
    )
    oai_page_size: int = Field(
        default=100, ge=1, le=10_000, description="OAI-PMH: records or headers per response"
    )
    oai_token_hours: float = Field(
        default=24.0, gt=0, description="OAI-PMH: how long a resumption token is honoured"
    )

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_base_url must be an absolute http(s) URL")
        if parts.query or parts.fragment:
            raise ValueError("public_base_url takes no query or fragment")
        return value.rstrip("/")

    @field_validator("datacite_funders", mode="before")
    @classmethod
    def _funders(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        return (
            [str(i).strip() for i in items if str(i).strip()] if isinstance(items, list) else value
        )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list):
            return value
        proxies = [str(item).strip() for item in items if str(item).strip()]
        for item in proxies:
            if item != "*":
                ipaddress.ip_network(item, strict=False)  # ValueError: not an address/CIDR
        return proxies

    @model_validator(mode="after")
    def _doi_targets(self) -> Settings:
        if self.datacite_enabled and not self.public_base_url:
            raise ValueError("DOIs through DataCite need public_base_url (their landing pages)")
        return self

    @model_validator(mode="after")
    def _cache_within_url_lifetime(self) -> Settings:
        # a shared cache may hand out an anonymous GET answer for max-age seconds: the
        # download URLs inside it must still work at the end of that time
        if self.get_cache_max_age >= self.download_url_minutes * 60:
            raise ValueError(
                "get_cache_max_age must be shorter than download_url_minutes: a cached "
                "answer would hold download URLs that have expired"
            )
        return self

    @property
    def datacite_enabled(self) -> bool:
        """DOIs through DataCite (a prefix and repository credentials), else local ids."""
        return bool(
            self.datacite_prefix
            and self.datacite_username
            and self.datacite_password.get_secret_value()
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def redis_queue(self) -> str:
        """The arq queue of this deployment (its workers' health key adds :health-check)."""
        return self.redis_prefix + "queue"


def settings_table() -> str:
    """The settings as a Markdown table, for the README (generated, never written twice)."""
    prefix = Settings.model_config.get("env_prefix", "")
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for name, info in Settings.model_fields.items():
        default = info.default
        if isinstance(default, SecretStr):
            default = "" if not default.get_secret_value() else "(secret)"
        if isinstance(default, list):
            default = ",".join(default)
        shown = str(default) if not isinstance(default, bool) else str(default).lower()
        rows.append(f"| `{prefix}{name.upper()}` | `{shown}` | {info.description or ''} |")
    return "\n".join(rows) + "\n"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def serve_processes(settings: Settings) -> int:
    """How many processes `satreps serve` runs: the setting, else one per usable CPU where
    every process shares the same state (PostgreSQL, Redis for jobs and rate limits)."""
    if settings.serve_processes:
        return settings.serve_processes
    if settings.database_url.startswith("sqlite") or not settings.redis_url:
        return 1
    return max(1, len(os.sched_getaffinity(0)))


S3_STORAGE_WORKERS, LOCAL_STORAGE_WORKERS = 8, 2


def storage_workers(settings: Settings, *, local: bool) -> int:
    """Threads of the object store: the setting, else the kind of store's default."""
    if settings.storage_workers:
        return settings.storage_workers
    return LOCAL_STORAGE_WORKERS if local else S3_STORAGE_WORKERS


def work_root(settings: Settings) -> Path:
    """Where workers keep a job's scratch files (created on first use)."""
    root = settings.work_dir or Path(settings.object_dir) / ".satreps" / "work"
    root.mkdir(parents=True, exist_ok=True)
    return root
