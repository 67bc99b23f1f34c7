"""`satreps upload DIR` against a real `satreps serve` (embedded): a folder with sub-folders,
globs, a symlink loop, files in flight at once, resumed after a failure, and the closing
manifest check."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.http.folder_upload import scan, upload_folder
from tests.server.test_upload_client import new_dataset, project, server, token  # noqa: F401
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
    assert ("raw/loop", "a symlink to a folder (not followed)") in found.skipped
    assert ("empty.csv", "empty (0 bytes carry no data)") in found.skipped
    only = scan(tmp_path, ["raw/2024/*"], [], tmp_path / "state.json")
    assert [f.path for f in only.files] == [
        "raw/2024/scratch.tmp",
        "raw/2024/station-07/log.csv",
        "raw/2024/station-08/log.csv",
    ]


def test_cli_uploads_a_folder_and_checks_the_manifest(
    server: Server,  # noqa: F811
    token: str,  # noqa: F811
    project: tuple[str, str],  # noqa: F811
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
    assert "skipped: raw/loop: a symlink to a folder (not followed)" in done.stderr
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
    assert "error: notes/readme.txt: the version holds another file there" in changed.stderr


class FailingOnce(httpx.Client):
    """Fails the third PUT, as a lost connection would."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.puts = 0

    def put(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        self.puts += 1
        if self.puts == 3:
            raise httpx.ConnectError("lost")
        return super().put(url, **kwargs)


def test_an_interrupted_folder_resumes_from_its_state_file(
    server: Server,  # noqa: F811
    token: str,  # noqa: F811
    project: tuple[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "run"
    root.mkdir()
    make_tree(root)
    state = tmp_path / "run.satreps-upload.json"
    with pytest.raises(httpx.ConnectError):
        upload_folder(root, version, server.url, token, jobs=1, http=FailingOnce(), say=str)
    assert state.exists()
    first = {u["path"]: u["id"] for u in held(server, token, version)["uploads"]}
    assert len(first) == len(TREE)  # all declared before the failure
    found, problems = upload_folder(root, version, server.url, token, jobs=2, say=str)
    assert problems == [] and len(found.files) == len(TREE)
    node = held(server, token, version)
    # the same uploads, not new ones
    assert {u["path"]: u["id"] for u in node["uploads"]} == first
    assert {u["state"] for u in node["uploads"]} == {"READY"}
    assert not state.exists()
    os.utime(root / "notes" / "readme.txt")  # touched, not changed: still checks out
    assert upload_folder(root, version, server.url, token, say=str)[1] == []
