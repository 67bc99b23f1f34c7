"""The database half of a snapshot: SQLite's online backup API, or pg_dump (which reads the
whole database in one REPEATABLE READ transaction: a consistent snapshot while the server
keeps writing), and their way back into an empty database."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from server.backup.errors import BackupError, BackupErrorCode
from server.core.db import make_engine

SQLITE_FILE = "database.sqlite"
POSTGRES_FILE = "database.pgdump"  # pg_dump's custom format, for pg_restore


def backend(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    return "sqlite" if name == "sqlite" else "postgresql"


def dump(database_url: str, directory: Path) -> str:
    """Write the snapshot into `directory`; returns the file's name."""
    if backend(database_url) == "sqlite":
        _sqlite_copy(_sqlite_path(database_url), directory / SQLITE_FILE)
        return SQLITE_FILE
    target = directory / POSTGRES_FILE
    _pg_tool(
        "pg_dump",
        database_url,
        ["--format=custom", "--no-owner", "--no-privileges", f"--file={target}"],
    )
    return POSTGRES_FILE


def expect(database_url: str, file: str) -> str:
    """The backend of a snapshot file, which must be the target's (checked before anything
    is written, --force's wipe included)."""
    if file not in (SQLITE_FILE, POSTGRES_FILE):
        raise BackupError(BackupErrorCode.NOT_A_BACKUP, f"unknown database file {file!r}")
    wanted = "sqlite" if file == SQLITE_FILE else "postgresql"
    if backend(database_url) != wanted:
        raise BackupError(
            BackupErrorCode.WRONG_BACKEND,
            f"the backup holds a {wanted} database; the target is {backend(database_url)}",
        )
    return wanted


def load(database_url: str, directory: Path, file: str) -> None:
    """Load a snapshot into an empty database (`is_empty` first, or `wipe`)."""
    wanted = expect(database_url, file)
    source = directory / file
    if not source.is_file():
        raise BackupError(BackupErrorCode.NOT_A_BACKUP, f"{source} is missing")
    if wanted == "sqlite":
        _sqlite_copy(source, _sqlite_path(database_url))
        return
    _pg_tool(
        "pg_restore",
        database_url,
        ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(source)],
    )


async def is_empty(database_url: str) -> bool:
    """No tables at all (a database `satreps migrate` has not touched yet)."""
    if backend(database_url) == "sqlite" and not await asyncio.to_thread(
        _sqlite_path(database_url).exists
    ):
        return True
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        return not names
    finally:
        await engine.dispose()


async def wipe(database_url: str) -> None:
    """Drop everything in the target (restore --force)."""
    if backend(database_url) == "sqlite":
        _remove_sqlite(_sqlite_path(database_url))
        return
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError(BackupErrorCode.WRONG_BACKEND, "an in-memory database has no backup")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy even while others write (it restarts
    when the source changes under it; in one step it holds a read transaction)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def libpq_url(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL pg_dump / pg_restore take, and the environment carrying the password (never
    on the command line, where `ps` shows it)."""
    url: URL = make_url(database_url)
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _pg_tool(tool: str, database_url: str, args: list[str]) -> None:
    binary = shutil.which(tool)
    if binary is None:
        raise BackupError(
            BackupErrorCode.DUMP_FAILED,
            f"{tool} is not installed (Debian: postgresql-client, the server's major version)",
        )
    url, env = libpq_url(database_url)
    done = subprocess.run(
        [binary, f"--dbname={url}", *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BackupError(
            BackupErrorCode.DUMP_FAILED, f"{tool} failed ({done.returncode}): {done.stderr[-2000:]}"
        )
