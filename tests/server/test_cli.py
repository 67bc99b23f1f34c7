"""The `satreps` command line, run as an operator runs it: a subprocess per command."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from schema import sdl
from server.access.auth import authenticate
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.core.global_ids import global_id
from server.demo import seed_demo
from server.demo.datasets import DATASETS
from server.http.app import create_app
from server.migrations import upgrade
from server.models import Institution, Researcher
from server.models.enums import AccountRole, InstitutionKind
from tests.conftest import postgres_database

SATREPS = str(Path(sys.executable).with_name("satreps"))
ME = "{ me { role } }"


def satreps(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `satreps ARGS` against DATABASE_URL, with no other SATREPS_* setting inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update(SATREPS_DATABASE_URL=database_url, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [SATREPS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def database_url(workdir: Path) -> str:
    """One migrated SQLite file shared by the token tests."""
    url = f"sqlite+aiosqlite:///{workdir / 'tokens.db'}"
    upgrade(url)
    return url


def create_token(database_url: str, cwd: Path, *args: str) -> tuple[int, str]:
    """`satreps token create ARGS`: the token id (from stderr) and the plaintext (stdout)."""
    result = satreps(database_url, cwd, "token", "create", *args)
    assert result.returncode == 0, result.stderr
    match = re.search(r"token id (\d+) for ", result.stderr)
    assert match, result.stderr
    return int(match.group(1)), result.stdout.strip()


async def post_graphql(database_url: str, token: str, query: str) -> httpx.Response:
    """Call the real app (in process) on that database, with a bearer token."""
    engine = make_engine(database_url)
    try:
        app = create_app(Settings(database_url=database_url), sessions=session_factory(engine))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cli-test") as http:
            return await http.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
            )
    finally:
        await engine.dispose()


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Non-zero exit, the message on stderr, and no Python traceback."""
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- migrate and export-schema -----------------------------------------------------------


def test_migrate_creates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = satreps(f"sqlite+aiosqlite:///{db}", tmp_path, "migrate")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database at heads"
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    assert {"accounts", "api_tokens", "institutions", "projects", "themes"} <= tables
    assert version


def test_export_schema_writes_the_sdl(tmp_path: Path) -> None:
    output = tmp_path / "out" / "schema.graphql"
    output.parent.mkdir()
    result = satreps(
        "sqlite+aiosqlite:///unused.db", tmp_path, "export-schema", "--output", str(output)
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {output}"
    assert output.read_text(encoding="utf-8") == sdl()


# --- token create / revoke ---------------------------------------------------------------


async def test_created_token_authenticates(database_url: str, workdir: Path) -> None:
    _, token = create_token(
        database_url, workdir, "--role", "program_manager", "--user", "pm", "--name", "ci"
    )
    assert token.startswith("sh_") and "\n" not in token  # stdout is the token and only it

    engine = make_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            principal = await authenticate(session, token)
    finally:
        await engine.dispose()
    assert principal.role == AccountRole.PROGRAM_MANAGER

    response = await post_graphql(database_url, token, ME)
    assert response.json() == {"data": {"me": {"role": "PROGRAM_MANAGER"}}}


async def test_revoked_token_gets_401(database_url: str, workdir: Path) -> None:
    token_id, token = create_token(database_url, workdir, "--role", "admin", "--user", "root")
    assert (await post_graphql(database_url, token, ME)).status_code == 200

    result = satreps(database_url, workdir, "token", "revoke", str(token_id))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"token {token_id} revoked"

    response = await post_graphql(database_url, token, ME)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["errors"] == [
        {"message": "token revoked", "extensions": {"code": "UNAUTHENTICATED"}}
    ]


async def test_token_create_changes_an_account_only_when_asked(
    database_url: str, workdir: Path
) -> None:
    """Re-issuing for an existing user with another role is refused, and changes it (saying
    so) with --update-account."""
    _, first = create_token(database_url, workdir, "--role", "researcher", "--user", "aiko")
    refused = satreps(
        database_url, workdir, "token", "create", "--role", "institution_uploader", "--user", "aiko"
    )
    assert_clean_failure(refused, "role researcher -> institution_uploader")
    assert "--update-account" in refused.stderr and refused.stdout == ""
    response = await post_graphql(database_url, first, ME)
    assert response.json() == {"data": {"me": {"role": "RESEARCHER"}}}

    args = ["--role", "institution_uploader", "--user", "aiko", "--update-account"]
    result = satreps(database_url, workdir, "token", "create", *args)
    assert result.returncode == 0, result.stderr
    assert "account aiko updated: role researcher -> institution_uploader" in result.stderr
    assert "its 1 other active token(s) now act with these settings" in result.stderr
    response = await post_graphql(database_url, result.stdout.strip(), ME)
    assert response.json() == {"data": {"me": {"role": "INSTITUTION_UPLOADER"}}}


def test_token_with_no_lifetime_is_refused(database_url: str, workdir: Path) -> None:
    args = ["token", "create", "--role", "admin", "--user", "root", "--days", "0"]
    result = satreps(database_url, workdir, *args)
    assert_clean_failure(result, "token lifetime must be positive")
    assert result.stdout == ""  # no token printed


def test_revoking_an_unknown_token_is_refused(database_url: str, workdir: Path) -> None:
    result = satreps(database_url, workdir, "token", "revoke", "999999")
    assert_clean_failure(result, "token not found")


def test_token_for_an_unknown_researcher_is_refused(database_url: str, workdir: Path) -> None:
    args = ["--role", "researcher", "--user", "ghost", "--researcher-id", "999999"]
    result = satreps(database_url, workdir, "token", "create", *args)
    assert_clean_failure(result, "researcher not found")


# --- usage errors ------------------------------------------------------------------------


def test_unknown_role_is_a_usage_error(database_url: str, workdir: Path) -> None:
    result = satreps(database_url, workdir, "token", "create", "--role", "boss", "--user", "x")
    assert result.returncode == 2
    assert "Usage: satreps token create" in result.stderr
    assert "Invalid value for '--role'" in result.stderr
    assert result.stdout == ""


def test_seed_without_demo_says_what_is_missing(tmp_path: Path) -> None:
    result = satreps(f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}", tmp_path, "seed")
    assert_clean_failure(result, "--demo")
    assert result.returncode == 2


def test_seeding_the_demo_twice_is_refused_cleanly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    first = satreps(url, tmp_path, "seed", "--demo")
    assert first.returncode == 0, first.stderr
    assert "projects" in first.stdout
    assert first.stdout.rstrip().endswith(f"{len(DATASETS)} datasets")
    second = satreps(url, tmp_path, "seed", "--demo")
    assert_clean_failure(second, "demo")


def test_seeding_the_demo_adds_the_datasets_an_older_demo_lacks(tmp_path: Path) -> None:
    """A database seeded before the demo had datasets gets them, and only them."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'seed.db'}"
    upgrade(url)

    async def graph_only() -> None:
        engine = make_engine(url)
        async with session_factory(engine)() as session:
            await seed_demo(session)
            await session.commit()
        await engine.dispose()

    asyncio.run(graph_only())
    result = satreps(url, tmp_path, "seed", "--demo")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{len(DATASETS)} datasets"


# --- existing accounts and ids, on both databases (issue 18 items 8, 9) --------------------


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest, workdir: Path) -> Iterator[str]:
    """A migrated database with two researchers and an institution (ids 1, 2 and 1)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'ids.db'}"
        upgrade(url)
        asyncio.run(_people(url))
        yield url
        return
    with postgres_database("satreps_cli") as url:
        upgrade(url)
        asyncio.run(_people(url))
        yield url


async def _people(url: str) -> None:
    engine = make_engine(url)
    try:
        async with session_factory(engine)() as session:
            session.add_all([Researcher(name_en="Aiko Sato"), Researcher(name_en="Ben Okoth")])
            session.add(
                Institution(name_en="Kyoto U", country_code="JP", kind=InstitutionKind.UNIVERSITY)
            )
            await session.commit()
    finally:
        await engine.dispose()


async def me_researcher(url: str, token: str) -> str | None:
    response = await post_graphql(url, token, "{ me { researcher { id } } }")
    researcher = response.json()["data"]["me"]["researcher"]
    return researcher and researcher["id"]


R1, R2 = global_id("Researcher", 1), global_id("Researcher", 2)


async def test_relinking_an_account_is_refused_unless_asked(any_db: str, workdir: Path) -> None:
    _, old = create_token(
        any_db, workdir, "--role", "researcher", "--user", "r1", "--researcher-id", "1"
    )
    relink = ["--role", "researcher", "--user", "r1", "--researcher-id", R2]
    refused = satreps(any_db, workdir, "token", "create", *relink)
    assert_clean_failure(refused, f"researcher Researcher {R1} (1) -> Researcher {R2} (2)")
    promote = satreps(any_db, workdir, "token", "create", "--role", "admin", "--user", "r1")
    assert_clean_failure(promote, "role researcher -> admin")
    assert await me_researcher(any_db, old) == R1  # the old token still answers as r1
    assert (await post_graphql(any_db, old, ME)).json()["data"]["me"]["role"] == "RESEARCHER"

    same = satreps(any_db, workdir, "token", "create", "--role", "researcher", "--user", "r1")
    assert same.returncode == 0, same.stderr  # nothing to change: a new token, no note
    assert "updated" not in same.stderr

    updated = satreps(any_db, workdir, "token", "create", *relink, "--update-account")
    assert updated.returncode == 0, updated.stderr
    assert f"account r1 updated: researcher Researcher {R1} (1) -> Researcher {R2} (2)" in (
        updated.stderr
    )
    assert await me_researcher(any_db, old) == R2


@pytest.mark.parametrize("form", ["2", R2, "Researcher:2"])
async def test_token_create_takes_every_form_of_id(any_db: str, workdir: Path, form: str) -> None:
    user = f"ids-{form.replace(':', '-')}"
    args = ["--role", "researcher", "--user", user, "--researcher-id", form]
    args += ["--institution-id", global_id("Institution", 1)]
    _, token = create_token(any_db, workdir, *args)
    assert await me_researcher(any_db, token) == R2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["token", "create", "--role", "researcher", "--user", "x", "--researcher-id", "abc"],
            "'abc' is not a Researcher id: give its global id (e.g. UmVzZWFyY2hlcjox)",
        ),
        (
            [
                "token",
                "create",
                "--role",
                "researcher",
                "--user",
                "x",
                "--researcher-id",
                global_id("Institution", 1),
            ],
            f"'{global_id('Institution', 1)}' is an Institution id, not a Researcher id",
        ),
        (
            ["token", "create", "--role", "researcher", "--user", "x", "--institution-id", "0"],
            "'0' is not an Institution id: numbers start at 1",
        ),
        (["export", global_id("Dataset", 2)], "is a Dataset id, not a DatasetVersion id"),
        (["fixity", "v2"], "'v2' is not a DatasetVersion id"),
        (
            ["upload", "README.md", "--dataset", global_id("Project", 2), "--token", "t"],
            "is a Project id, not a Dataset or DatasetVersion id",
        ),
    ],
)
def test_a_bad_id_is_a_usage_error_naming_the_type(
    database_url: str, workdir: Path, args: list[str], message: str
) -> None:
    result = satreps(database_url, workdir, *args)
    assert result.returncode == 2, result.stderr
    assert message in " ".join(result.stderr.replace("│", " ").split())
    assert result.stdout == ""


def test_export_and_upload_take_the_same_forms(database_url: str, workdir: Path) -> None:
    """export takes a number, a global id and Type:N (the version need not exist: the id is
    read, then looked up); upload sends a Dataset id for a plain number."""
    for form in ("7", global_id("DatasetVersion", 7), "DatasetVersion:7"):
        result = satreps(database_url, workdir, "export", form)
        assert_clean_failure(result, "not found")
        assert result.returncode == 1
    (workdir / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    nobody = "http://127.0.0.1:9/graphql"
    for form in ("2", global_id("Dataset", 2), "DatasetVersion:2"):
        args = ["upload", "data.csv", "--dataset", form, "--token", "t", "--url", nobody]
        result = satreps(database_url, workdir, *args)
        assert result.returncode == 1, result.stderr  # read, then the server is unreachable
        assert "cannot connect" in result.stderr


def test_the_upload_example_reads_ids_as_the_cli_does(workdir: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / "upload_file.py"
    (workdir / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    base = [sys.executable, str(example), "data.csv", "--url", "http://127.0.0.1:9/graphql"]
    wrong = subprocess.run(
        [*base, "--dataset", global_id("Project", 1)], cwd=workdir, capture_output=True, text=True
    )
    assert wrong.returncode == 2
    assert "is a Project id, not a Dataset or DatasetVersion id" in wrong.stderr
    number = subprocess.run(
        [*base, "--dataset", "3", "--token", "t"], cwd=workdir, capture_output=True, text=True
    )
    assert number.returncode == 1 and "cannot connect" in number.stderr  # read, then sent
