"""The one-way arrows of the house: pyproject.toml's import-linter contract keeps on the
tree, names every package of server/, and breaks on each kind of wrong-way import (so the
check in scripts/test cannot pass by checking nothing). And the size of the rooms: no module
over 600 lines outside migrations and demo data."""

from __future__ import annotations

import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "schema", "workers")

LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the tree under root, in a process of its own: the graph is built from
    the packages that root's import path finds, not from those this process has imported."""
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c["id"] == "layers")
    return contract["layers"]


def test_the_tree_keeps_the_contract() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_every_package_of_server_has_a_layer() -> None:
    named = {m.strip() for layer in layers() for m in re.split(r"[|:]", layer)}
    children = {f"server.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "server")])}
    assert children - named == set(), "a package of server/ that the layers contract does not place"
    assert {"schema", "workers"} <= named


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    shutil.copy(ROOT / "pyproject.toml", root)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "static")
        )
    return root


WRONG_WAY = {
    "core imports a model": ("server/core/wrong.py", "from server.models import Upload\n"),
    "core imports access": ("server/core/wrong.py", "import server.access.auth\n"),
    "models import a domain": ("server/models/wrong.py", "import server.projects.service\n"),
    "a domain imports http": ("server/themes/wrong.py", "from server.http import app\n"),
    "a domain imports schema": ("server/datasets/wrong.py", "import schema.context\n"),
    "a domain enqueues by import": (
        "server/datasets/wrong.py",
        "def enqueue():\n    from workers.jobs import process_upload\n    return process_upload\n",
    ),
    "backup imports http": ("server/backup/wrong.py", "from server.http import cli_ops\n"),
    "workers import schema": ("workers/wrong.py", "from schema import context\n"),
    "schema imports workers, for types only": (
        "schema/wrong.py",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import workers.jobs\n",
    ),
    "storage imports provenance": ("server/storage/wrong.py", "import server.provenance\n"),
}


@pytest.mark.parametrize("path, source", WRONG_WAY.values(), ids=WRONG_WAY.keys())
def test_a_wrong_way_import_breaks_the_contract(copy: Path, path: str, source: str) -> None:
    wrong = copy / path
    wrong.write_text(source)
    try:
        result = lint(copy)
    finally:
        wrong.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    module = path.removesuffix(".py").replace("/", ".")
    assert f"- {module} -> " in result.stdout


LIMIT = 600
CHECKED = ("server", "schema", "workers", "tests", "bench", "scripts")
EXEMPT = ("server/migrations/versions", "server/demo/data")


def test_no_module_is_over_the_line_limit() -> None:
    """Issue 17: no module outside migrations and demo data is over 600 lines (a module that
    grows past it is split along its seams, as the ones before it were)."""
    over = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name.startswith(EXEMPT) or "__pycache__" in path.parts:
                continue
            lines = len(path.read_text().splitlines())
            if lines > LIMIT:
                over.append(f"{name} ({lines})")
    assert over == [], f"modules over {LIMIT} lines: " + ", ".join(over)
