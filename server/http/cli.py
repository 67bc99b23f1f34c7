"""`satreps`: serve, migrate, seed, export the schema, manage tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.config import Settings, get_settings
from server.core.db import engine_from_settings, session_factory
from server.core.errors import DomainError
from server.core.global_ids import BadId, global_id, parse_id
from server.models.enums import AccountRole
from server.provenance import ExportFormat as ProvFormat

T = TypeVar("T")


@dataclass(frozen=True)
class TypedId:
    """An object's id as the command line read it (one form everywhere: parse_id)."""

    type_name: str
    pk: int

    @property
    def global_id(self) -> str:
        return global_id(self.type_name, self.pk)


def _id_parser(*types: str) -> Callable[[str], TypedId]:
    """A global id of one of TYPES (as the API gives it), `Type:number`, or a plain number
    (of the first of TYPES); a usage error naming the expected type otherwise."""

    def parse(raw: str) -> TypedId:
        try:
            return TypedId(*parse_id(raw, *types))
        except BadId as error:
            raise typer.BadParameter(str(error)) from None

    return parse


def id_option(*types: str, help: str) -> Any:
    return typer.Option(parser=_id_parser(*types), metavar="ID", help=help, show_default=False)


def id_argument(*types: str, help: str, metavar: str) -> Any:
    return typer.Argument(parser=_id_parser(*types), metavar=metavar, help=help, show_default=False)


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
    upgrade(settings.database_url, revision, pgbouncer=settings.db_pgbouncer)
    typer.echo(f"database at {revision}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes (default: SATREPS_SERVE_PROCESSES, see README)"),
    ] = None,
) -> None:
    """Serve the API (embedded by default: SQLite under ./var, nothing else to install)."""
    import uvicorn

    from server.core.config import serve_processes
    from server.core.logs import configure_logging, logging_config
    from server.migrations import upgrade

    settings = get_settings()
    workers = workers or serve_processes(settings)
    configure_logging(settings)
    if settings.auto_migrate:
        upgrade(settings.database_url, pgbouncer=settings.db_pgbouncer)
    typer.echo(
        f"satreps-hub on http://{host}:{port}/graphql ({settings.database_url},"
        f" {workers} process{'es' if workers > 1 else ''})"
    )
    uvicorn.run(
        "server.http.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # the app believes proxies itself (SATREPS_TRUSTED_PROXIES)
        log_config=logging_config(settings),
        access_log=False,  # server/http/middleware.py logs each request, with its request id
        # SIGTERM: stop accepting, close WebSockets (1012, clients reconnect elsewhere),
        # let running requests finish within the grace period
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


@app.command()
def upload(
    file: Annotated[Path, typer.Argument(help="The file or folder to upload")],
    dataset: Annotated[
        TypedId,
        id_option(
            "Dataset",
            "DatasetVersion",
            help="Dataset id (its open draft version is used) or DatasetVersion id: a global"
            " id, Dataset:N / DatasetVersion:N, or a plain number (a Dataset's)",
        ),
    ],
    token: Annotated[
        str | None, typer.Option(envvar="SATREPS_TOKEN", help="API token ($SATREPS_TOKEN)")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="SATREPS_URL", help="GraphQL endpoint ($SATREPS_URL)")
    ] = "http://127.0.0.1:8000/graphql",
    progress: Annotated[
        bool,
        typer.Option(
            help="Progress bars on stderr when it is a terminal (a folder: bytes and files"
            " overall, the files in flight beneath)"
        ),
    ] = True,
    state_file: Annotated[
        Path | None,
        typer.Option(help="Where to keep the resume state (default: <file>.satreps-upload.json)"),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the server to verify the file")
    ] = 600.0,
    include: Annotated[
        list[str] | None, typer.Option(help="A folder: only paths matching this glob (repeat)")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="A folder: leave out paths matching this glob")
    ] = None,
    jobs: Annotated[int, typer.Option(help="A folder: files in flight at once")] = 8,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="A folder: the outcome as one JSON document on stdout (codes included)"
        ),
    ] = False,
) -> None:
    """Upload a file, or a folder recursively, into a dataset's draft: multipart above 64
    MiB, resumable, sha256-checked (a folder: every file checked against its READY file).

    Run the same command again after an interruption to send only what is missing.
    Exits 0 when every file is READY, 1 otherwise (each failed file listed with its code:
    the server's, or CHECKSUM_MISMATCH, MISSING_REMOTE, NOT_FINISHED, TRANSFER_FAILED,
    LOCAL_UNREADABLE, ...).
    """
    from server.http.upload_client import run

    def echo(message: str, err: bool) -> None:
        typer.echo(message, err=err)

    if file.is_dir():
        from server.http.folder_upload import run_folder

        options = {
            "include": include or [],
            "exclude": exclude or [],
            "jobs": jobs,
            "progress": progress,
            "json": as_json,
        }
        raise typer.Exit(
            run_folder(file, dataset.global_id, url, token, state_file, timeout, options, echo)
        )

    if as_json:
        raise typer.BadParameter("--json applies to a folder", param_hint="--json")
    raise typer.Exit(
        run(
            file,
            dataset.global_id,
            url,
            token,
            progress,
            state_file,
            poll_timeout=timeout,
            echo=echo,
        )
    )


@app.command()
def download(
    version: Annotated[
        TypedId,
        id_argument(
            "DatasetVersion",
            help="DatasetVersion id: a global id, DatasetVersion:N or a plain number",
            metavar="VERSION",
        ),
    ],
    directory: Annotated[Path, typer.Argument(help="Where the files go (made if need be)")],
    prefix: Annotated[
        str | None, typer.Option(help="Only the files whose path starts with this")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Files in flight at once")] = 4,
    token: Annotated[
        str | None, typer.Option(envvar="SATREPS_TOKEN", help="API token ($SATREPS_TOKEN)")
    ] = None,
    url: Annotated[
        str, typer.Option(envvar="SATREPS_URL", help="GraphQL endpoint ($SATREPS_URL)")
    ] = "http://127.0.0.1:8000/graphql",
) -> None:
    """Download every file of a version you may read: N at a time, resumable, sha256-checked.

    Run the same command again after an interruption: partial files are continued with a
    Range, files already in place and verified are kept. Exits 0 when every file is in
    place, 2 when some failed, 3 when the server left some out (you may not read them, or
    their fixity check failed), 1 when nothing could start; each failure is listed.
    """
    from server.http.download_client import run as run_download

    def echo(message: str, err: bool) -> None:
        typer.echo(message, err=err)

    code = run_download(
        version.global_id, directory, url, token, prefix=prefix, jobs=jobs, echo=echo
    )
    raise typer.Exit(code)


@app.command()
def worker() -> None:
    """Run an arq worker: processes uploads and reconciles the queue with the database."""
    from arq.worker import run_worker

    from server.core.logs import configure_logging
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
    """Load data. `--demo` loads a realistic graph of SATREPS projects and their datasets
    (real, openly licensed files, processed as uploads are)."""
    if not demo:
        raise typer.BadParameter("say what to seed: --demo")
    from server.demo import DemoDataExists, seed_demo
    from server.demo.datasets import DemoDatasetFailed
    from server.migrations import upgrade

    settings = get_settings()
    upgrade(settings.database_url, pgbouncer=settings.db_pgbouncer)
    try:
        counts = _run_in_session(settings, seed_demo)
    except DemoDataExists:
        counts = {}  # the graph is there: add the datasets it may lack
    try:
        datasets = asyncio.run(_seed_datasets(settings))
    except DemoDatasetFailed as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if not counts and not datasets["datasets"]:
        typer.echo("error: the demo graph and its datasets are already loaded", err=True)
        raise typer.Exit(1)
    counts = {**counts, "datasets": datasets["datasets"]}
    typer.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


async def _seed_datasets(settings: Settings) -> dict[str, int]:
    from server.storage import store_from_settings
    from workers.demo import seed_demo_datasets

    engine = engine_from_settings(settings)
    store = store_from_settings(settings)
    try:
        return await seed_demo_datasets(settings, session_factory(engine), store)
    finally:
        store.close()
        await engine.dispose()


VERSION_HELP = "DatasetVersion id: a global id, DatasetVersion:N or a plain number"


@app.command("export")
def export_provenance(
    version_id: Annotated[
        TypedId, id_argument("DatasetVersion", help=VERSION_HELP, metavar="VERSION_ID")
    ],
    format: Annotated[
        ProvFormat, typer.Option("--format", "-f", help="What to write")
    ] = ProvFormat.PROV_JSON,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout")
    ] = None,
) -> None:
    """Export a dataset version's provenance: PROV-JSON, PROV-O (JSON-LD, Turtle), PROV-N,
    or RO-Crate metadata (the full record: this is an operator's command)."""
    from server.provenance.export import export_version
    from server.provenance.lineage import SYSTEM

    settings = get_settings()
    pk = version_id.pk

    async def work(session: AsyncSession) -> str:
        found = await export_version(
            session,
            SYSTEM,
            pk,
            format,
            namespace=settings.prov_namespace,
            raw_bucket=settings.bucket_raw,
        )
        return found.text

    text = _run_in_session(settings, work)
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@app.command()
def fixity(
    version_id: Annotated[
        TypedId | None,
        id_argument("DatasetVersion", help=VERSION_HELP, metavar="[VERSION_ID]"),
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every raw object not checked since --since")
    ] = False,
    since: Annotated[
        dt.datetime | None,
        typer.Option(
            help="With --all: check what was last checked before this date/time (UTC),"
            " or never; default now (everything)",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
        ),
    ] = None,
    rate: Annotated[
        int | None,
        typer.Option(
            help="With --all: most bytes read per second (default the setting; 0: no limit)"
        ),
    ] = None,
) -> None:
    """Re-hash raw objects now and record the outcome (a PROV fixity-check activity per
    version, the files' latest check, the audit log): one version, or with --all every
    object not checked since --since. Exits 0 when every file matches its recorded size and
    sha256, 1 otherwise."""
    from server.http.fixity_cli import check_all, check_version

    settings = get_settings()
    if all_ == (version_id is not None):
        typer.echo("error: give a VERSION_ID or --all (not both)", err=True)
        raise typer.Exit(2)
    if version_id is None:
        ok = check_all(settings, since, settings.fixity_bytes_per_second if rate is None else rate)
    else:
        ok = check_version(settings, version_id.pk)
    raise typer.Exit(0 if ok else 1)


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


@app.command("documents")
def documents_doc(
    source: Annotated[
        Path | None,
        typer.Argument(
            help="A directory of .graphql files or a JSON manifest "
            "(default: $SATREPS_TRUSTED_DOCUMENTS)"
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(help="Also write them as an Apollo persisted-query manifest here"),
    ] = None,
) -> None:
    """Check trusted documents against the schema and list each one's id (sha256), type and
    name: what clients send as extensions.persistedQuery.sha256Hash. Exits 1 when one does
    not validate (the server would refuse to start with it)."""
    import json

    from schema import build_schema
    from server.http.persisted import TrustedDocumentsError, check_documents, read_trusted
    from server.http.persisted import manifest as as_manifest

    source = source or get_settings().trusted_documents
    if source is None:
        typer.echo("error: give a source or set SATREPS_TRUSTED_DOCUMENTS", err=True)
        raise typer.Exit(1)
    try:
        documents = read_trusted(source)
    except TrustedDocumentsError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    if problems := check_documents(documents, build_schema()._schema):
        typer.echo("\n".join(f"error: {problem}" for problem in problems), err=True)
        raise typer.Exit(1)
    listed = as_manifest(documents)
    for operation in listed["operations"]:
        typer.echo(f"{operation['id']}  {operation['type']} {operation['name'] or '-'}")
    if manifest is not None:
        manifest.write_text(json.dumps(listed, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"wrote {manifest}")


@app.command("settings")
def settings_doc() -> None:
    """Print every setting (environment variable, default, meaning) as Markdown."""
    from server.core.config import settings_table

    typer.echo(settings_table(), nl=False)


@app.command("error-codes")
def error_codes_doc() -> None:
    """Print the error codes of every domain as Markdown (the README's table)."""
    from schema.errors import codes_table

    typer.echo(codes_table(), nl=False)


@token_app.command("create")
def token_create(
    role: Annotated[AccountRole, typer.Option(help="Account role")],
    user: Annotated[str, typer.Option(help="Account user name (created if new)")],
    days: Annotated[int | None, typer.Option(help="Lifetime in days")] = None,
    name: Annotated[str | None, typer.Option(help="A label for the token")] = None,
    researcher_id: Annotated[
        TypedId | None,
        id_option(
            "Researcher",
            help="Link the account to a researcher (global id, Researcher:N or a number)",
        ),
    ] = None,
    institution_id: Annotated[
        TypedId | None,
        id_option(
            "Institution",
            help="Link to an institution (global id, Institution:N or a number)",
        ),
    ] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="read, write, upload or admin (repeat; default: all the role can use)"),
    ] = None,
    update_account: Annotated[
        bool,
        typer.Option(
            "--update-account",
            help="Change an existing account's role or links to these (its tokens follow)",
        ),
    ] = False,
) -> None:
    """Create an account's API token and print it (once: only its hash is stored).

    A new user name creates the account. An existing account is never changed silently: a
    different --role, --researcher-id or --institution-id is refused unless
    --update-account is given, and what changed is printed."""
    from server.access.auth import active_tokens, issue_token, provision_account

    settings = get_settings()
    ttl = dt.timedelta(days=days if days is not None else settings.token_ttl_days)
    notes: list[str] = []

    async def work(session: AsyncSession) -> tuple[int, str, dt.datetime, str]:
        account, created, changes = await provision_account(
            session,
            user,
            role,
            researcher_id=researcher_id.pk if researcher_id else None,
            institution_id=institution_id.pk if institution_id else None,
            update_existing=update_account,
        )
        if created:
            notes.append(f"account {user} created ({role.value})")
        elif changes:
            others = await active_tokens(session, account)
            notes.append(f"account {user} updated: " + "; ".join(map(str, changes)))
            notes.append(f"its {others} other active token(s) now act with these settings")
        row, plaintext = await issue_token(session, account, ttl=ttl, name=name, scopes=scope)
        return row.id, plaintext, row.expires_at, row.scopes

    token_id, plaintext, expires, scopes = _run_in_session(settings, work)
    for note in notes:
        typer.echo(note, err=True)
    typer.echo(
        f"token id {token_id} for {user} ({role.value}), scopes {scopes},"
        f" expires {expires:%Y-%m-%d}",
        err=True,
    )
    typer.echo(plaintext)


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id."""
    from server.access.auth import revoke_token

    async def work(session: AsyncSession) -> None:
        await revoke_token(session, token_id)

    _run_in_session(get_settings(), work)
    typer.echo(f"token {token_id} revoked")


def _register_ops() -> None:
    from server.http import cli_ops

    cli_ops.register(app)


_register_ops()

if __name__ == "__main__":
    app()
