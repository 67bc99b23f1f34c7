"""`satreps upload DIR` against a real `satreps serve` (embedded): a folder with sub-folders,
globs, a symlink loop, files in flight at once, resumed after a failure, and the closing
manifest check."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pty
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from server.datasets.upload_jobs import sized_runs
from server.http import folder_transfer
from server.http.folder_upload import upload_folder
from server.http.folder_walk import FileCode, Local, Problem, scan
from tests.fixtures.served import new_dataset
from tests.test_examples import SATREPS, Server, graphql

FILES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    files(first: 100) { nodes { path sha256 } } uploads { id path state } } } }"""
TREE = {
    "raw/2024/station-07/log.csv": b"t,level\n1,1.5\n",
    "raw/2024/station-08/log.csv": b"t,level\n1,2.5\n",
    "raw/2025/station-07/log.csv": b"t,level\n2,3.5\n",
    "notes/readme.txt": b"field notes\n",
    "raw/2024/scratch.tmp": b"leave me out\n",
}


def make_tree(root: Path) -> None:
    for rel, body in TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    (root / "raw" / "loop").symlink_to(root / "raw")  # a symlink loop: raw/loop/loop/...
    (root / "empty.csv").write_bytes(b"")


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def held(running: Server, admin: str, version: str) -> dict[str, Any]:
    return graphql(running, admin, FILES, v=version)["node"]


def test_scan_does_not_follow_a_symlink_loop(tmp_path: Path) -> None:
    make_tree(tmp_path)
    found = scan(tmp_path, [], ["*.tmp"], tmp_path / "state.json")
    assert [f.path for f in found.files] == sorted(set(TREE) - {"raw/2024/scratch.tmp"})
    assert Problem("raw/loop", "SYMLINK_LOOP", "a symlink to a folder above it (not followed)") in (
        found.skipped
    )
    assert Problem("empty.csv", "EMPTY_FILE", "empty (0 bytes carry no data)") in found.skipped
    assert found.failed == []
    only = scan(tmp_path, ["raw/2024/*"], [], tmp_path / "state.json")
    assert [f.path for f in only.files] == [
        "raw/2024/scratch.tmp",
        "raw/2024/station-07/log.csv",
        "raw/2024/station-08/log.csv",
    ]


def test_scan_gives_each_left_out_path_its_code(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "sub" / "ok.txt").write_bytes(b"ok\n")
    (root / "sub" / "away").symlink_to(elsewhere)  # a folder outside: not followed, no loop
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "gone.txt").symlink_to(tmp_path / "nothing-there")  # dangling: meant to go, cannot
    found = scan(root, [], [], tmp_path / "state.json")
    assert [f.path for f in found.files] == ["sub/ok.txt"]
    assert {(p.path, p.code) for p in found.skipped} == {
        ("sub/away", FileCode.SYMLINKED_FOLDER),
        ("self", FileCode.SYMLINK_LOOP),
    }
    assert [(p.path, p.code) for p in found.failed] == [("gone.txt", FileCode.LOCAL_UNREADABLE)]
    assert found.failed[0].line().startswith("gone.txt: LOCAL_UNREADABLE: cannot be read: ")


def test_cli_uploads_a_folder_and_checks_the_manifest(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "campaign"
    root.mkdir()
    make_tree(root)
    env = {**server.env, "SATREPS_TOKEN": token, "SATREPS_URL": server.url}
    args = [SATREPS, "upload", str(root), "--dataset", version, "--exclude", "*.tmp"]
    done = subprocess.run([*args, "--jobs", "3"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "4 of 4 files READY, sha256 checked" in done.stdout
    assert "skipped: raw/loop: SYMLINK_LOOP: a symlink to a folder above it" in done.stderr
    assert "skipped: empty.csv: EMPTY_FILE: " in done.stderr
    assert "\x1b[" not in done.stderr  # stderr is a pipe here: no bar, no control codes
    node = held(server, token, version)
    expected = {p: sha(b) for p, b in TREE.items() if not p.endswith(".tmp")}
    assert {f["path"]: f["sha256"] for f in node["files"]["nodes"]} == expected
    assert not (tmp_path / "campaign.satreps-upload.json").exists()
    # again: nothing new, the manifest still holds (the paths are taken by the same bytes)
    again = subprocess.run(args, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    # a file changed locally: the manifest names it
    (root / "notes" / "readme.txt").write_bytes(b"other notes\n")
    changed = subprocess.run(args, env=env, capture_output=True, text=True)
    assert changed.returncode == 1
    assert (
        "error: notes/readme.txt: CHECKSUM_MISMATCH: the version holds another file there"
        in changed.stderr
    )
    assert "3 of 4 files READY, sha256 checked; 1 failed" in changed.stdout
    as_json = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert (report["files"], report["ready"]) == (4, 3)
    assert [(p["path"], p["code"]) for p in report["failed"]] == [
        ("notes/readme.txt", "CHECKSUM_MISMATCH")
    ]
    assert {(p["path"], p["code"]) for p in report["skipped"]} == {
        ("raw/loop", "SYMLINK_LOOP"),
        ("empty.csv", "EMPTY_FILE"),
    }


class Crash(Exception):
    """What a killed run looks like from inside: the PUT never returns."""


class Client(httpx.Client):
    """Counts its PUTs; raises Crash on the `crash_at`-th; answers HTTP 500 to the
    `refuse_at`-th without sending it (as a store refusing the bytes would), and to every
    later PUT of the same URL; the PUTs numbered in `flaky` fail once each, a network
    error or a 503, as a passing fault would."""

    def __init__(self, crash_at: int = 0, refuse_at: int = 0, flaky: tuple[int, ...] = ()) -> None:
        super().__init__(timeout=30)
        self.puts = 0
        self.crash_at, self.refuse_at, self.flaky = crash_at, refuse_at, flaky
        self.refused: set[str] = set()

    def put(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        self.puts += 1
        if self.puts == self.crash_at:
            raise Crash
        if self.puts == self.refuse_at or str(url) in self.refused:
            self.refused.add(str(url))
            return httpx.Response(500, text="store says no")
        if self.puts in self.flaky:
            if self.flaky.index(self.puts) % 2 == 0:
                raise httpx.ConnectError("connection reset (injected)")
            return httpx.Response(503, text="slow down")
        return super().put(url, **kwargs)


def sent_in_state(state: Path) -> set[str]:
    return {f["path"] for f in json.loads(state.read_text())["files"] if f["sent"]}


def test_an_interrupted_folder_resumes_from_its_state_file(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "run"
    root.mkdir()
    make_tree(root)
    state = tmp_path / "run.satreps-upload.json"
    crashing = Client(crash_at=3)
    with pytest.raises(Crash):
        upload_folder(root, version, server.url, token, jobs=1, http=crashing, say=str)
    # the two sent before the crash are in the state file (the one in flight may be too);
    # the queued ones were not sent after it
    sent = sent_in_state(state)
    assert len(sent) in (2, 3) and crashing.puts <= 4
    first = {u["path"]: u["id"] for u in held(server, token, version)["uploads"]}
    assert len(first) == len(TREE)  # all declared before the failure
    counting = Client()
    found, problems = upload_folder(
        root, version, server.url, token, jobs=2, http=counting, say=str
    )
    assert problems == [] and len(found.files) == len(TREE)
    assert counting.puts == len(TREE) - len(sent)  # only what the first run had not sent
    node = held(server, token, version)
    # the same uploads, not new ones
    assert {u["path"]: u["id"] for u in node["uploads"]} == first
    assert {u["state"] for u in node["uploads"]} == {"READY"}
    assert not state.exists()
    os.utime(root / "notes" / "readme.txt")  # touched, not changed: still checks out
    assert upload_folder(root, version, server.url, token, say=str)[1] == []


class Recording(httpx.Client):
    """The order of the transfer's calls: ("start", paths), ("put", path), ("complete", n)."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.seen: list[tuple[str, Any]] = []
        self.urls: dict[str, str] = {}  # a PUT URL -> its file's path
        self.lock = threading.Lock()

    def post(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        query = kwargs.get("json", {}).get("query", "")
        given = kwargs.get("json", {}).get("variables", {})
        if "startUploads(" in query:
            with self.lock:
                self.seen.append(("start", [f["path"] for f in given["files"]]))
        response = super().post(url, **kwargs)
        if "startUploads(" in query:
            entries = response.json()["data"]["startUploads"]["entries"]
            for entry, file in zip(entries, given["files"], strict=True):
                self.urls[entry["instructions"]["putUrl"]] = file["path"]
        if "completeUploads(" in query:
            with self.lock:
                self.seen.append(("complete", len(given["ids"])))
        return response

    def put(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        path = next(p for u, p in self.urls.items() if str(url).endswith(u))
        with self.lock:
            self.seen.append(("put", path))
        return super().put(url, **kwargs)


def test_the_next_chunk_is_declared_and_this_one_completed_while_bytes_go(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of 1 file, two declared ahead: startUploads of chunk k+2 is asked before chunk
    k's bytes go, and chunk k's completeUploads after them, on one thread of calls in
    order: S0 S1 S2 C0 S3 C1 S4 C2 C3 C4."""
    monkeypatch.setattr(folder_transfer, "FILES_PER_CHUNK", 1)
    _, version = new_dataset(server, token, project)
    root = tmp_path / "chunks"
    root.mkdir()
    make_tree(root)
    client = Recording()
    found, problems = upload_folder(root, version, server.url, token, jobs=2, http=client)
    assert problems == [] and len(found.files) == 5
    calls = [
        (kind, len(what) if kind == "start" else what)
        for kind, what in client.seen
        if kind != "put"
    ]
    assert calls == [
        ("start", 1), ("start", 1), ("start", 1), ("complete", 1), ("start", 1),
        ("complete", 1), ("start", 1), ("complete", 1), ("complete", 1), ("complete", 1),
    ]  # fmt: skip
    chunks = [what for kind, what in client.seen if kind == "start"]
    for number, chunk in enumerate(chunks):  # a chunk's bytes go after it is declared
        at = [i for i, (kind, what) in enumerate(client.seen) if kind == "put" and what in chunk]
        declared = client.seen.index(("start", chunk))
        completed = [i for i, (kind, _) in enumerate(client.seen) if kind == "complete"][number]
        assert len(at) == len(chunk) and declared < min(at) and max(at) < completed
    assert {u["state"] for u in held(server, token, version)["uploads"]} == {"READY"}


def test_chunks_hold_so_many_files_and_so_many_bytes() -> None:
    """A chunk of big files is completed (and processed) while the next goes: at most
    FILES_PER_CHUNK files and BYTES_PER_CHUNK bytes, a file bigger than that alone."""
    mib = 1024 * 1024
    sizes = [10 * mib] * 7 + [70 * mib] + [1] * 5
    files = [Local(f"f{i}", size, 0) for i, size in enumerate(sizes)]
    runs = [[f.size for f in chunk] for chunk in sized_runs(files, 4, 64 * mib)]
    assert runs == [[10 * mib] * 4, [10 * mib] * 3, [70 * mib], [1] * 4, [1]]
    assert [f for run in sized_runs(files, 4, 64 * mib) for f in run] == files


def test_a_refused_file_has_its_code_and_the_others_go_on(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "bad"
    deep = "/".join(["d" * 199] * 10) + "/deep.csv"  # 2,009 characters
    files = {"Notes/a.txt": b"upper\n", "notes/a.txt": b"lower\n", deep: b"deep\n"}
    files |= {"good.csv": b"a,b\n1,2\n", "refused.csv": b"a\n1\n"}
    for rel, body in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    # sent one at a time in path order: Notes/a.txt, good.csv, refused.csv (the server
    # refuses the other two when they are declared)
    refusing = Client(refuse_at=3)
    _, problems = upload_folder(root, version, server.url, token, jobs=1, http=refusing, say=str)
    codes = {p.path: p.code for p in problems}
    assert codes == {
        "notes/a.txt": "PATH_CASE_CLASH",  # the server's codes, as it gives them
        deep: "PATH_TOO_LONG",
        "refused.csv": FileCode.TRANSFER_FAILED,
    }
    assert next(p for p in problems if p.path == "refused.csv").reason == (
        "the store answered HTTP 500: store says no"
    )
    node = held(server, token, version)
    assert {f["path"] for f in node["files"]["nodes"]} == {"Notes/a.txt", "good.csv"}
    # the refused bytes go on the next run; the server's refusals stay
    again = upload_folder(root, version, server.url, token, say=str)[1]
    assert {p.path: p.code for p in again} == {
        "notes/a.txt": "PATH_CASE_CLASH",
        deep: "PATH_TOO_LONG",
    }


def test_a_passing_fault_is_tried_again_not_a_failed_file(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    """A connection reset and a 503 on two files' PUTs: each file is sent again (the
    one-file flow's patience), and the run ends with every file READY."""
    _, version = new_dataset(server, token, project)
    root = tmp_path / "flaky"
    root.mkdir()
    make_tree(root)
    flaky = Client(flaky=(2, 4))
    found, problems = upload_folder(root, version, server.url, token, jobs=1, http=flaky, say=str)
    assert problems == [] and len(found.files) == len(TREE)
    assert flaky.puts == len(TREE) + 2  # the two faults, each tried once more
    assert {u["state"] for u in held(server, token, version)["uploads"]} == {"READY"}


def console(terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=160)


def frames(drawn: Console) -> tuple[str, str]:
    """All that was drawn without its control codes, and the last frame (from its sha256
    row on)."""
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.file.getvalue())  # type: ignore[attr-defined]
    return text, text.rsplit("sha256", 1)[-1]


def test_the_bar_shows_bytes_and_files_and_nothing_when_off(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "shown"
    root.mkdir()
    make_tree(root)
    total = sum(len(body) for body in TREE.values())
    shown = console(terminal=True)
    found, problems = upload_folder(
        root, version, server.url, token, jobs=2, say=str, progress=True, console=shown
    )
    assert problems == [] and len(found.files) == len(TREE)
    assert "\x1b[" in shown.file.getvalue()  # type: ignore[attr-defined]
    drawn, last = frames(shown)
    assert re.search(rf"sha256 .* {total}/{total} bytes", drawn)
    assert re.search(rf"done .* {total}/{total} bytes .* {len(TREE)}/{len(TREE)} files", last)
    assert "failed" not in last
    assert f"{len(TREE)} files, {total} bytes" in drawn  # what is said goes above the bar
    # off: asked not to, or the console is no terminal (stderr to a file or a pipe)
    for quiet, wanted in ((console(terminal=True), False), (console(terminal=False), True)):
        _, version = new_dataset(server, token, project)
        said: list[str] = []
        _, problems = upload_folder(
            root, version, server.url, token, say=said.append, progress=wanted, console=quiet
        )
        assert problems == []
        assert quiet.file.getvalue() == ""  # type: ignore[attr-defined]
        assert said == [f"{len(TREE)} files, {total} bytes"]


def test_the_bar_counts_failed_files(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "partly"
    root.mkdir()
    make_tree(root)
    shown = console(terminal=True)
    _, problems = upload_folder(
        root,
        version,
        server.url,
        token,
        jobs=1,
        http=Client(refuse_at=2),
        say=str,
        progress=True,
        console=shown,
    )
    assert [p.code for p in problems] == [FileCode.TRANSFER_FAILED]
    _, last = frames(shown)
    assert f"{len(TREE)}/{len(TREE)} files (1 failed)" in last


def test_the_readme_lists_every_cli_code() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|", readme, flags=re.M))
    codes = {code.strip("`") for row in listed for code in row.split(", ")}
    assert {c.value for c in FileCode} <= codes


def test_a_large_file_goes_its_own_way_on_the_same_bars(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files over SINGLE_PUT_MAX (64 MiB; 13 bytes here) take the one-file flow, at their
    path: their bytes move the folder's bars, a refusal keeps the server's code. (No small
    file is processed meanwhile: the embedded server's SQLite may then answer startUpload
    with "database is locked", see the report of branch i23-cli.)"""
    monkeypatch.setattr(folder_transfer, "SINGLE_PUT_MAX", 13)
    _, version = new_dataset(server, token, project)
    root = tmp_path / "large"
    deep = "/".join(["d" * 199] * 10)
    (root / deep).mkdir(parents=True)
    (root / deep / "deep.csv").write_bytes(b"deep,deeper\n")  # 12 bytes: refused in the batch
    (root / deep / "big.csv").write_bytes(b"a,b\n" * 10)  # the one-file flow, refused
    (root / "big.csv").write_bytes(b"a,b\n" * 10)  # the one-file flow, READY
    shown = console(terminal=True)
    found, problems = upload_folder(
        root, version, server.url, token, say=str, progress=True, console=shown
    )
    assert {(p.path, p.code) for p in problems} == {
        (f"{deep}/deep.csv", "PATH_TOO_LONG"),
        (f"{deep}/big.csv", "PATH_TOO_LONG"),
    }
    files = held(server, token, version)["files"]["nodes"]
    assert {f["path"]: f["sha256"] for f in files} == {"big.csv": sha(b"a,b\n" * 10)}
    _, last = frames(shown)
    assert re.search(r"done .* 40/92 bytes .* 3/3 files \(2 failed\)", last)


def on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """The command with its stderr on a pseudo-terminal: (status, stdout, stderr as drawn,
    without control codes)."""
    master, slave = pty.openpty()
    drawn = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        done = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=slave, text=True)
    finally:
        os.close(slave)
        reader.join(timeout=30)
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn.decode(errors="replace"))
    return done.returncode, done.stdout, text


def test_the_cli_draws_the_bar_on_a_terminal_and_not_with_no_progress(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    root = tmp_path / "tty"
    root.mkdir()
    make_tree(root)
    total = sum(len(body) for body in TREE.values())
    env = {**server.env, "SATREPS_TOKEN": token, "SATREPS_URL": server.url, "TERM": "xterm"}
    for extra, shown in (([], True), (["--no-progress"], False)):
        _, version = new_dataset(server, token, project)
        args = [SATREPS, "upload", str(root), "--dataset", version, *extra]
        status, out, err = on_a_terminal(args, env)
        assert status == 0, err
        assert f"{len(TREE)} of {len(TREE)} files READY, sha256 checked" in out
        assert "skipped: raw/loop: SYMLINK_LOOP:" in err  # the listing, either way
        bar = rf"done .* {total}/{total} bytes .* {len(TREE)}/{len(TREE)} files"
        assert bool(re.search(bar, err)) is shown, err


def test_an_interrupted_hashing_keeps_the_sha256_it_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "hashing"
    root.mkdir()
    make_tree(root)
    state = tmp_path / "hashing.satreps-upload.json"
    hashed: list[str] = []

    def crash_on_the_third(path: Path, progress: Any = None) -> str:
        if len(hashed) == 2:
            raise Crash
        hashed.append(path.relative_to(root).as_posix())
        return sha(path.read_bytes())

    monkeypatch.setattr(folder_transfer, "sha256_of", crash_on_the_third)
    files = scan(root, [], [], state).files
    never = folder_transfer.Uploader("http://127.0.0.1:9/graphql", None, progress=False)
    with pytest.raises(Crash):
        folder_transfer.FolderUpload(never, root, "v1", state, 1, str).run(files)
    again = scan(root, [], [], state).files
    folder_transfer.FolderUpload(never, root, "v1", state, 1, str).merge_state(again)
    kept = {f.path: f.sha256 for f in again if f.sha256}
    assert kept == {p: sha(TREE[p]) for p in hashed} and len(kept) == 2


def test_json_is_for_a_folder(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_bytes(b"a\n1\n")
    args = [SATREPS, "upload", str(tmp_path / "one.csv"), "--dataset", "1", "--json"]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 2 and "--json applies to a folder" in done.stderr


RAGGED = b"station,date,level_m\nBKK-01,2023-01-01,1.52\nAYU-07,2023-01-02,1.7,EXTRA\n"
CLEAN = b"station,date,level_m\nBKK-01,2023-01-01,1.52\nBKK-01,2023-01-02,1.61\n"
RAGGED_WARNING = (
    "RAGGED_ROWS",
    "skipped 1 ragged row(s) (first: expected 3 fields, got 4: 'AYU-07,2023-01-02,1.7,EXTRA')",
)


class Asking(httpx.Client):
    """The GraphQL requests that ask for warnings: how many uploads each answered."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.asked: list[int] = []

    def post(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        body = kwargs.get("json") or {}
        response = super().post(url, **kwargs)
        if "warnings" in body.get("query", ""):
            self.asked.append(len(response.json()["data"]["node"]["uploads"]))
        return response


def test_the_warnings_of_ready_files_are_printed_and_in_the_json_report(
    server: Server,
    token: str,
    project: tuple[str, str],
    tmp_path: Path,
) -> None:
    """A ragged CSV and clean ones: the ragged file's warning is printed after the
    progress and is in the `--json` report; the clean files have none. The warnings are
    read from the one listing of the uploads that ends the wait."""
    _, version = new_dataset(server, token, project)
    root = tmp_path / "survey"
    (root / "2024").mkdir(parents=True)
    (root / "2024" / "ragged.csv").write_bytes(RAGGED)
    (root / "2024" / "clean.csv").write_bytes(CLEAN)
    (root / "clean.csv").write_bytes(CLEAN)
    env = {**server.env, "SATREPS_TOKEN": token, "SATREPS_URL": server.url}
    args = [SATREPS, "upload", str(root), "--dataset", version]
    done = subprocess.run(args, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    code, message = RAGGED_WARNING
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [f"warning: 2024/ragged.csv: {code}: {message}"]
    assert "3 of 3 files READY, sha256 checked; 1 with warnings" in done.stdout
    as_json = subprocess.run([*args, "--json"], env=env, capture_output=True, text=True)
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["warnings"] == [{"path": "2024/ragged.csv", "code": code, "message": message}]
    # through the API: with the one listing of the uploads, no request of their own
    asking = Asking()
    found, problems = upload_folder(root, version, server.url, token, http=asking, say=str)
    assert problems == []
    assert asking.asked == [len(found.files)]
    assert [(w.path, w.code, w.message) for w in found.warnings] == [
        ("2024/ragged.csv", code, message)
    ]
