"""`satreps backup` and `satreps restore` (registered on the CLI by server/http/cli.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from server.core.config import get_settings

DIRECT_URL = typer.Option(
    "--database-url",
    help="PostgreSQL itself when SATREPS_DATABASE_URL names PgBouncer (pg_dump and pg_restore "
    "need a session of their own)",
    show_default=False,
)


def _fail(error: Exception) -> typer.Exit:
    from server.backup import BackupError

    assert isinstance(error, BackupError)
    typer.echo(f"error: {error.code}: {error}", err=True)
    return typer.Exit(1)


def backup(
    directory: Annotated[Path, typer.Argument(help="a new (or empty) directory")],
    database_url: Annotated[str | None, DIRECT_URL] = None,
) -> None:
    """Write a consistent snapshot: the database (one transaction), a manifest of every
    object with its sha256 and version id, and the objects (into DIRECTORY/objects, or
    verified copies in SATREPS_BACKUP_BUCKET on S3)."""
    from server.backup import BackupError
    from server.backup import backup as run

    try:
        report = asyncio.run(run(get_settings(), directory, database_url=database_url))
    except BackupError as error:
        raise _fail(error) from None
    typer.echo(
        f"backup {report.directory}: database {report.database_seconds:.2f} s, "
        f"{report.objects} object(s), {report.bytes} bytes in {report.objects_seconds:.2f} s"
    )


def restore(
    directory: Annotated[Path, typer.Argument(help="a directory `satreps backup` wrote")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="restore into a database and store that are not empty: drops every table of "
            "the target database first, and puts the objects over those in the store",
        ),
    ] = False,
    database_url: Annotated[str | None, DIRECT_URL] = None,
) -> None:
    """Rebuild a server from a backup into an empty database and object store (every copy is
    checked against the manifest first; uploads in flight are handed back, see the README)."""
    from server.backup import BackupError
    from server.backup import restore as run

    try:
        report = asyncio.run(run(get_settings(), directory, force=force, database_url=database_url))
    except BackupError as error:
        raise _fail(error) from None
    typer.echo(
        f"restored: database {report.database_seconds:.2f} s, {report.objects} object(s), "
        f"{report.bytes} bytes in {report.objects_seconds:.2f} s; uploads to send again: "
        f"{report.reopened_uploads or 'none'}, queued again: {report.requeued_uploads or 'none'}"
    )


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(restore)
