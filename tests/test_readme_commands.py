"""Every command README.md and examples/README.md show runs, exactly as written (issue 18
item 10).

The commands are read from the documents' ```sh blocks (a line ending in a backslash goes
on) and from the `$ command` lines of their output blocks, whose output must be the one
shown. Each document runs top to bottom in one bash session (an `export` carries to the
next command) in a fresh directory that stands for the repository root: `.venv` is this
interpreter's virtualenv, `examples` the real one, and ./var (the embedded default's
database and objects) starts empty. A `satreps serve` runs in the background, as "in another
terminal", until its /healthz answers; the session runs in a network namespace of its own
when the machine allows one, so the documents' fixed port 8000 is free. A command that
cannot run in a test is in NOT_RUN with the reason; an entry that matches no command fails,
so the list cannot go stale."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = (ROOT / "README.md", ROOT / "examples" / "README.md")
VENV = Path(sys.prefix)

BENCHMARK = "a benchmark: minutes of every core (run by hand, never in the test suite)"
NOT_RUN: dict[str, str] = {
    "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/satreps serve": (
        "installs the project and its dependencies from PyPI into a new virtualenv (network,"
        " minutes): `.ci/run` does it on a fresh clone; its `satreps serve` runs below"
    ),
    "scripts/test": "the whole test suite, this test included",
    "cd frontend && npm ci && npm run build": (
        "needs the npm registry and rewrites the committed dashboard assets"
    ),
    **{
        command: (
            "rewrites the committed catalogues of the interface (tests/server/test_i18n.py runs"
            " the same extraction into a temporary file and checks the catalogues against it)"
        )
        for command in (
            '.venv/bin/pybabel extract -F babel.cfg --ignore-dirs="node_modules .* _*" \\\n'
            "  --add-comments=i18n: --no-wrap --sort-by-file --project=satreps-hub \\\n"
            "  -o server/http/locales/dashboard.pot frontend server/http/templates",
            ".venv/bin/pybabel update -D dashboard -i server/http/locales/dashboard.pot"
            " -d server/http/locales --no-wrap --ignore-pot-creation-date",
            ".venv/bin/pybabel init -D dashboard -i server/http/locales/dashboard.pot"
            " -d server/http/locales --no-wrap -l th",
            ".venv/bin/pybabel compile -D dashboard -d server/http/locales --statistics",
        )
    },
    ".venv/bin/python bench/graph_read.py --quick": BENCHMARK,
    ".venv/bin/python bench/http_floor.py --seconds 5 --rounds 3": BENCHMARK,
    ".venv/bin/python bench/ingest.py --sizes 256": BENCHMARK,
    ".venv/bin/python bench/ingest.py --formats 1024 --formats-only": BENCHMARK,
    ".venv/bin/python bench/lineage.py --nodes 10000": BENCHMARK,
    ".venv/bin/python bench/stats.py --projects 1000 --datasets 20000": BENCHMARK,
    ".venv/bin/python bench/backup.py --modes local,s3": BENCHMARK,
    ".venv/bin/python bench/search.py": BENCHMARK,
    ".venv/bin/python bench/download.py --mib 1024 --files 1000 --modes s3,local": BENCHMARK,
    ".venv/bin/python bench/upload_folder.py": BENCHMARK,
    ".venv/bin/python bench/upload_folder.py --small 1000 --large 50": BENCHMARK,
    ".venv/bin/python bench/notify.py --events 1000 --backends postgresql,sqlite   # a burst": (
        BENCHMARK
    ),
    ".venv/bin/python bench/notify.py --events 300 --rate 10                        # paced": (
        BENCHMARK
    ),
    **{
        command: "needs Docker, which the test machine does not have"
        for command in (
            "docker compose -f deploy/compose.yaml up -d --build      # then"
            " http://localhost:8080/graphql",
            "docker compose -f deploy/compose.yaml logs -f api worker # JSON lines",
            "docker compose -f deploy/compose.yaml up -d --scale worker=4",
        )
    },
    **{
        command: "needs a Kubernetes cluster (tests/deploy validates the manifests offline)"
        for command in (
            "$EDITOR deploy/k8s/secret.yaml deploy/k8s/configmap.yaml"
            " deploy/k8s/kustomization.yaml  # image, hosts",
            "kubectl apply -k deploy/k8s",
            "kubectl -n satreps wait --for=condition=complete job/satreps-migrate",
            "kubectl -n satreps rollout status deploy/satreps-api deploy/satreps-worker",
        )
    },
}


# what a command needs that the document's earlier commands do not make, run just before
# it: the provenance commands need a dataset version with a file (the demo seeds none)
SETUP = {".venv/bin/satreps export 1 ": "python -m tests.readme_setup"}


@dataclass(frozen=True)
class Command:
    document: str
    line: int
    text: str
    shown_output: str | None = None  # a `$ command` line: the output the document shows

    @property
    def serves(self) -> bool:
        return re.search(r"\bsatreps serve\b", self.text) is not None

    @property
    def port(self) -> int:
        match = re.search(r"--port[ =](\d+)", self.text)
        return int(match.group(1)) if match else 8000


FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def commands_of(path: Path) -> list[Command]:
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(ROOT).as_posix()
    out: list[Command] = []
    for fence in FENCE.finditer(text):
        language, body = fence.group(1), fence.group(2)
        first = text.count("\n", 0, fence.start(2)) + 1
        if language == "sh":
            out += _sh_commands(name, first, body)
        elif not language and body.startswith("$ "):
            command, _, shown = body[2:].partition("\n")
            out.append(Command(name, first, command, shown))
    return out


def _sh_commands(name: str, first: int, body: str) -> list[Command]:
    out, pending, start = [], "", first
    for number, line in enumerate(body.splitlines(), first):
        if not pending:
            start = number
            if not line.strip() or line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line + "\n"
            continue
        out.append(Command(name, start, pending + line))
        pending = ""
    return out


def sandbox(tmp: Path) -> Path:
    """A directory standing for the repository root, with an empty ./var."""
    (tmp / ".venv").symlink_to(VENV, target_is_directory=True)
    (tmp / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    return tmp


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # the checkout's code, whichever checkout the virtualenv was installed from
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(USER="docs-reader", COLUMNS="200", NO_COLOR="1")
    return env


def script(commands: list[Command]) -> str:
    health = f"{shlex.quote(sys.executable)} -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)'"
    lines = [
        "wait_healthy() {",
        "  for _ in $(seq 1 600); do",
        f'    {health} "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0',
        "    sleep 0.1",
        "  done",
        "  return 1",
        "}",
        "ip link set lo up 2>/dev/null",  # inside a fresh network namespace
    ]
    for i, command in enumerate(commands):
        if command.serves:
            lines += [
                f"{{ {command.text}\n}} > out.{i} 2> err.{i} &",
                f"wait_healthy {command.port}; echo $? > rc.{i}",
            ]
        else:
            lines.append(f"{{ {command.text}\n}} > out.{i} 2> err.{i}; echo $? > rc.{i}")
    return "\n".join(lines) + "\n"


def own_network() -> list[str]:
    """`unshare` into a new network namespace (its own loopback, port 8000 free) when the
    machine allows it; else the host's network (port 8000 must then be free)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-rn", "true"], capture_output=True, timeout=10)
    return [unshare, "-rn"] if probe.returncode == 0 else []


def with_setup(commands: list[Command]) -> list[Command]:
    out = []
    for command in commands:
        for prefix, setup in SETUP.items():
            if command.text.startswith(prefix):
                out.append(Command("setup for the next command", command.line, setup))
        out.append(command)
    return out


def run_document(path: Path, tmp: Path) -> list[tuple[Command, int, str, str]]:
    commands = with_setup([c for c in commands_of(path) if c.text not in NOT_RUN])
    root = sandbox(tmp)
    (root / "session.sh").write_text(script(commands), encoding="utf-8")
    process = subprocess.Popen(
        [*own_network(), "bash", "session.sh"],
        cwd=root,
        env=environment(),
        start_new_session=True,  # the servers it starts share its process group
    )
    try:
        process.wait(timeout=600)
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)  # the background `satreps serve`s
        except ProcessLookupError:
            pass
    results = []
    for i, command in enumerate(commands):
        rc = root / f"rc.{i}"
        code = int(rc.read_text()) if rc.exists() else -1
        out = (root / f"out.{i}").read_text(errors="replace")
        err = (root / f"err.{i}").read_text(errors="replace")
        results.append((command, code, out, err))
    return results


def test_the_not_run_list_names_only_shown_commands() -> None:
    shown = {c.text for path in DOCUMENTS for c in commands_of(path)}
    assert set(NOT_RUN) <= shown, sorted(set(NOT_RUN) - shown)
    for prefix in SETUP:
        assert any(text.startswith(prefix) for text in shown), prefix


def test_the_documents_show_commands() -> None:
    for path in DOCUMENTS:
        assert [c for c in commands_of(path) if c.text not in NOT_RUN], path


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_shown_command_runs_as_written(path: Path, tmp_path: Path) -> None:
    results = run_document(path, tmp_path)
    assert results
    for command, code, out, err in results:
        where = f"{command.document}:{command.line}: {command.text}\nstdout:\n{out}\nstderr:\n{err}"
        if command.shown_output is None:
            assert code == 0, f"exit {code}: {where}"
            continue
        assert (out + err).strip() == command.shown_output.strip(), where
        expected = 1 if command.shown_output.startswith("error:") else 0
        assert code == expected, f"exit {code}: {where}"
