"""`satreps`: serve, migrate, seed, export the schema, manage tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings, get_settings
from server.db import engine_from_settings, session_factory
from server.errors import DomainError
from server.models.enums import AccountRole

T = TypeVar("T")
app = typer.Typer(help="satreps-hub: the SATREPS collaboration server", no_args_is_help=True)
token_app = typer.Typer(help="API tokens", no_args_is_help=True)
app.add_typer(token_app, name="token")


def _run_in_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = engine_from_settings(settings)
        try:
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except DomainError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


@app.command()
def migrate(revision: str = "heads") -> None:
    """Apply the database migrations."""
    from server.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes")] = 1,
) -> None:
    """Serve the API (embedded by default: SQLite under ./var, nothing else to install)."""
    import uvicorn

    from server.logs import configure_logging, logging_config
    from server.migrations import upgrade

    settings = get_settings()
    configure_logging(settings)
    if settings.auto_migrate:
        upgrade(settings.database_url)
    typer.echo(f"satreps-hub on http://{host}:{port}/graphql ({settings.database_url})")
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_config=logging_config(settings),
        access_log=False,  # server/middleware.py logs each request, with its request id
        # SIGTERM: stop accepting, close WebSockets (1012, clients reconnect elsewhere),
        # let running requests finish within the grace period
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@app.command()
def upload(
    file: Annotated[Path, typer.Argument(help="The file to upload")],
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="DatasetVersion id, or a Dataset id (its open draft version is used)",
        ),
    ],
    token: Annotated[
        str | None, typer.Option(envvar="SATREPS_TOKEN", help="API token ($SATREPS_TOKEN)")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="SATREPS_URL", help="GraphQL endpoint ($SATREPS_URL)")
    ] = "http://127.0.0.1:8000/graphql",
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    state_file: Annotated[
        Path | None,
        typer.Option(help="Where to keep the resume state (default: <file>.satreps-upload.json)"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the server to verify the file")
    ] = 600.0,
) -> None:
    """Upload a file into a dataset's draft: multipart above 64 MiB, resumable, sha256-checked.

    Run the same command again after an interruption to send only the missing parts.
    Exits 0 when the file is READY, 1 otherwise (with the error code and message).
    """
    from server.upload_client import run

    def echo(message: str, err: bool) -> None:
        typer.echo(message, err=err)

    raise typer.Exit(
        run(file, dataset, url, token, progress, state_file, poll_timeout=timeout, echo=echo)
    )


@app.command()
def worker() -> None:
    """Run an arq worker: processes uploads and reconciles the queue with the database."""
    from arq.worker import run_worker

    from server.logs import configure_logging
    from workers.main import worker_settings

    # run_worker configures no logging: without this the worker prints nothing but bare
    # WARNING messages (logging.lastResort), not even a job starting or ending.
    settings = get_settings()
    configure_logging(settings)
    run_worker(worker_settings(settings))


@app.command()
def seed(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo research graph")] = False,
) -> None:
    """Load data. `--demo` loads a realistic graph of SATREPS projects."""
    if not demo:
        raise typer.BadParameter("say what to seed: --demo")
    from server.demo import DemoDataExists, seed_demo
    from server.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    try:
        counts = _run_in_session(settings, seed_demo)
    except DemoDataExists as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@app.command("export-schema")
def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL")] = Path(
        "schema/schema.graphql"
    ),
) -> None:
    """Write the GraphQL SDL (schema/schema.graphql by default)."""
    from schema import sdl

    output.write_text(sdl(), encoding="utf-8")
    typer.echo(f"wrote {output}")


@app.command("settings")
def settings_doc() -> None:
    """Print every setting (environment variable, default, meaning) as Markdown."""
    from server.config import settings_table

    typer.echo(settings_table(), nl=False)


@token_app.command("create")
def token_create(
    role: Annotated[AccountRole, typer.Option(help="Account role")],
    user: Annotated[str, typer.Option(help="Account user name (created if new)")],
    days: Annotated[int | None, typer.Option(help="Lifetime in days")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the token")] = None,
    researcher_id: Annotated[
        int | None, typer.Option(help="Link the account to a researcher")
    ] = None,
    institution_id: Annotated[int | None, typer.Option(help="Link to an institution")] = None,
) -> None:
    """Create an account's API token and print it (once: only its hash is stored)."""
    from server.auth import ensure_account, issue_token

    settings = get_settings()
    ttl = dt.timedelta(days=days if days is not None else settings.token_ttl_days)

    async def work(session: AsyncSession) -> tuple[int, str, dt.datetime]:
        account = await ensure_account(
            session, user, role, researcher_id=researcher_id, institution_id=institution_id
        )
        row, plaintext = await issue_token(session, account, ttl=ttl, name=name)
        return row.id, plaintext, row.expires_at

    token_id, plaintext, expires = _run_in_session(settings, work)
    typer.echo(
        f"token id {token_id} for {user} ({role.value}), expires {expires:%Y-%m-%d}", err=True
    )
    typer.echo(plaintext)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id."""
    from server.auth import revoke_token

    async def work(session: AsyncSession) -> None:
        await revoke_token(session, token_id)

    _run_in_session(get_settings(), work)
    typer.echo(f"token {token_id} revoked")


if __name__ == "__main__":
    app()
