"""End to end: `satreps serve` in a subprocess, the example scripts run against it as a
researcher would run them. Self-contained: one SQLite file (plus one PostgreSQL run)."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import postgres_database

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SATREPS = str(Path(sys.executable).with_name("satreps"))


@dataclass(frozen=True)
class Server:
    url: str  # the GraphQL endpoint
    env: dict[str, str]  # what the server runs with: use it for the CLI too
    workdir: Path


def clean_env(database_url: str, workdir: Path) -> dict[str, str]:
    """The caller's environment without any SATREPS_* setting (no stray token), plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update(
        SATREPS_DATABASE_URL=database_url,
        SATREPS_OBJECT_DIR=str(workdir / "objects"),
        COLUMNS="200",
        NO_COLOR="1",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def satreps(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SATREPS, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"satreps serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"satreps serve not healthy after 30 s:\n{log.read_text()}")


@contextmanager
def running_server(database_url: str, workdir: Path) -> Iterator[Server]:
    """`satreps serve` on a free loopback port; always stopped on the way out."""
    port = free_port()
    env = clean_env(database_url, workdir)
    log = workdir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SATREPS, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log)
        yield Server(f"http://127.0.0.1:{port}/graphql", env, workdir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def admin_token(server: Server) -> str:
    args = ["token", "create", "--role", "admin", "--user", "examples-admin"]
    created = satreps(server.env, server.workdir, *args)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


def run_example(
    server: Server, script: str, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(server.env)
    if token is not None:
        env["SATREPS_TOKEN"] = token  # the scripts read it when --token is not given
    return subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--url", server.url, *args],
        env=env,
        cwd=server.workdir,
        capture_output=True,
        text=True,
        timeout=60,
    )


def graphql(server: Server, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        server.url,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def has_demo_seeder() -> bool:
    return hasattr(importlib.import_module("server.demo"), "seed_demo")


# --- the SQLite server shared by this module ---------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("examples")
    database_url = f"sqlite+aiosqlite:///{workdir / 'satreps.db'}"
    if has_demo_seeder():
        seeded = satreps(clean_env(database_url, workdir), workdir, "seed", "--demo")
        assert seeded.returncode == 0, seeded.stderr
    with running_server(database_url, workdir) as running:
        yield running


@pytest.fixture(scope="module")
def token(server: Server) -> str:
    return admin_token(server)


# --- create_institution.py ---------------------------------------------------------------


def test_create_institution_prints_the_new_institution(server: Server, token: str) -> None:
    name = f"Kasetsart University {uuid.uuid4().hex[:6]}"
    args = ["--name", name, "--country", "th", "--kind", "university", "--acronym", "KU"]
    result = run_example(server, "create_institution.py", *args, "--token", token)

    assert result.returncode == 0, result.stderr
    assert f"created {name} (UNIVERSITY, Thailand)" in result.stdout
    new_id = result.stdout.split("id: ")[1].strip()
    found = graphql(
        server,
        token,
        "query($n: String) { institutions(filter: {name: $n}) { nodes { id } } }",
        n=name,
    )
    assert found["institutions"]["nodes"] == [{"id": new_id}]


def test_create_institution_reads_the_token_from_the_environment(
    server: Server, token: str
) -> None:
    args = ["--name", "Universidade de Sao Paulo", "--country", "BR", "--kind", "UNIVERSITY"]
    result = run_example(server, "create_institution.py", *args, token=token)
    assert result.returncode == 0, result.stderr
    assert "created Universidade de Sao Paulo (UNIVERSITY, Brazil)" in result.stdout


def test_create_institution_shows_every_payload_error(server: Server, token: str) -> None:
    args = ["--name", "Nowhere Institute", "--country", "ZZ", "--kind", "ngo", "--ror-id", "bad"]
    result = run_example(server, "create_institution.py", *args, "--token", token)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "error: the institution was not created" in result.stderr
    assert "country: country must be an ISO 3166-1 alpha-2 code (INVALID_COUNTRY)" in result.stderr
    assert "rorId: rorId is not a valid ROR identifier (INVALID_ROR)" in result.stderr
    assert "Traceback" not in result.stderr


def test_create_institution_without_a_token_is_refused(server: Server) -> None:
    args = ["--name", "Anonymous University", "--country", "KE", "--kind", "university"]
    result = run_example(server, "create_institution.py", *args)
    assert result.returncode == 1
    assert "this operation needs an API token (UNAUTHENTICATED)" in result.stderr


def test_create_institution_with_a_bad_token_is_refused(server: Server) -> None:
    args = ["--name", "Forged University", "--country", "KE", "--kind", "university"]
    result = run_example(server, "create_institution.py", *args, "--token", "sh_forged")
    assert result.returncode == 1
    assert "error: the server refused the request: invalid token" in result.stderr


def test_examples_report_an_unreachable_server(tmp_path: Path) -> None:
    nobody = Server(f"http://127.0.0.1:{free_port()}/graphql", clean_env("", tmp_path), tmp_path)
    for result in (
        run_example(nobody, "list_projects_by_theme.py"),
        run_example(
            nobody, "create_institution.py", "--name", "X", "--country", "JP", "--kind", "ngo"
        ),
    ):
        assert result.returncode == 1
        assert f"error: no GraphQL answer from {nobody.url}" in result.stderr
        assert "Traceback" not in result.stderr


# --- list_projects_by_theme.py -----------------------------------------------------------

THEME = """mutation($input: CreateThemeInput!) {
  createTheme(input: $input) { theme { id } errors { message } } }"""
PROJECT = """mutation($input: CreateProjectInput!) {
  createProject(input: $input) { project { id } errors { message } } }"""
TRANSITION = """mutation($input: TransitionProjectPhaseInput!) {
  transitionProjectPhase(input: $input) { project { phase } errors { message } } }"""


@dataclass(frozen=True)
class ThemeData:
    name: str
    code: str


@pytest.fixture(scope="module")
def coastal(server: Server, token: str) -> ThemeData:
    """A root theme with a sub-theme and three projects; only the first one is approved."""
    code = f"coastal-{uuid.uuid4().hex[:6]}"
    root = graphql(server, token, THEME, input={"name": "Coastal Resilience", "code": code})
    root_id = root["createTheme"]["theme"]["id"]
    child = graphql(server, token, THEME, input={"name": "Mangroves", "parentId": root_id})
    child_id = child["createTheme"]["theme"]["id"]
    projects = [
        ("Tsunami early warning", "TEW", root_id, ["ID"]),
        ("Mangrove carbon stocks", "MCS", child_id, ["PH", "VN"]),
        ("Coral reef monitoring", None, root_id, []),
    ]
    ids = []
    for title, acronym, theme_id, countries in projects:
        values = {"title": title, "themeIds": [theme_id], "partnerCountries": countries}
        if acronym:
            values["acronym"] = acronym
        ids.append(graphql(server, token, PROJECT, input=values)["createProject"]["project"]["id"])
    for phase in ("REQUESTED", "APPROVED"):
        graphql(server, token, TRANSITION, input={"projectId": ids[0], "toPhase": phase})
    return ThemeData("Coastal Resilience", code)


def theme_block(output: str, theme: ThemeData) -> list[str]:
    """The theme's heading line and the indented project lines under it."""
    lines = output.splitlines()
    heading = f"{theme.name} [{theme.code}]"
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    block = [lines[start]]
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line)
    return block


def test_list_pages_through_every_project_of_a_theme_and_its_sub_themes(
    server: Server, token: str, coastal: ThemeData
) -> None:
    result = run_example(server, "list_projects_by_theme.py", "--page-size", "1", "--token", token)

    assert result.returncode == 0, result.stderr
    assert theme_block(result.stdout, coastal) == [
        f"Coastal Resilience [{coastal.code}]: 3 project(s)",
        "  - TEW: Tsunami early warning [APPROVED] (ID)",
        "  - MCS: Mangrove carbon stocks [IDENTIFICATION] (PH, VN)",
        "  - Coral reef monitoring [IDENTIFICATION] (no partner yet)",
    ]
    assert "Mangroves" not in result.stdout  # sub-themes are folded into their root


def test_list_without_a_token_shows_only_public_projects(
    server: Server, coastal: ThemeData
) -> None:
    result = run_example(server, "list_projects_by_theme.py")

    assert result.returncode == 0, result.stderr
    assert theme_block(result.stdout, coastal) == [
        f"Coastal Resilience [{coastal.code}]: 1 project(s)",
        "  - TEW: Tsunami early warning [APPROVED] (ID)",
    ]


def test_list_reports_a_refused_page_size(server: Server) -> None:
    result = run_example(server, "list_projects_by_theme.py", "--page-size", "500")
    assert result.returncode == 1
    assert "error: the server refused the request: first must be between 0 and 100" in (
        result.stderr
    )


@pytest.mark.skipif(not has_demo_seeder(), reason="server.demo.seed_demo is not written yet")
def test_list_shows_the_demo_projects(server: Server) -> None:
    result = run_example(server, "list_projects_by_theme.py")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("  - ") for line in result.stdout.splitlines())


# --- the same walk on PostgreSQL ---------------------------------------------------------


@pytest.mark.postgres
def test_examples_against_postgresql(tmp_path: Path) -> None:
    with postgres_database("satreps_examples") as url, running_server(url, tmp_path) as pg:
        token = admin_token(pg)
        args = ["--name", "Universiti Malaya", "--country", "MY", "--kind", "university"]
        created = run_example(pg, "create_institution.py", *args, token=token)
        assert created.returncode == 0, created.stderr
        assert "created Universiti Malaya (UNIVERSITY, Malaysia)" in created.stdout

        listed = run_example(pg, "list_projects_by_theme.py", "--token", token)
        assert listed.returncode == 0, listed.stderr
        assert "project(s)" in listed.stdout
