"""The `satreps` command line, run as an operator runs it: a subprocess per command."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from schema import sdl
from server.access.auth import authenticate
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.demo import seed_demo
from server.demo.datasets import DATASETS
from server.http.app import create_app
from server.migrations import upgrade
from server.models.enums import AccountRole

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


async def test_token_create_links_the_account(database_url: str, workdir: Path) -> None:
    """Re-issuing for an existing user changes its role: the account is upserted."""
    create_token(database_url, workdir, "--role", "researcher", "--user", "aiko")
    _, token = create_token(
        database_url, workdir, "--role", "institution_uploader", "--user", "aiko"
    )
    response = await post_graphql(database_url, token, ME)
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
