"""`satreps upload DIR`'s wait: while the server processes the folder, the client polls the
version's counts by state (a few rows), not the listing of every upload; it lists the
uploads once, when none is still on its way."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from server.http.folder_upload import upload_folder
from tests.fixtures.served import new_dataset
from tests.test_examples import Server

MOVING = {"UPLOADED", "QUEUED", "PROCESSING"}
TREE = {f"raw/station-{i:02d}/log.csv": f"t,level\n{i},1.5\n".encode() for i in range(6)}


class Looks(httpx.Client):
    """What the client asked of the version's uploads, in order: ("counts", node) for each
    poll of `uploadCounts`, ("listing", node) for each listing of `uploads`."""

    def __init__(self) -> None:
        super().__init__(timeout=30)
        self.seen: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

    def post(self, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        query = kwargs.get("json", {}).get("query", "")
        response = super().post(url, **kwargs)
        for kind, mark in (("counts", "uploadCounts"), ("listing", "uploads {")):
            if mark in query:
                with self.lock:
                    self.seen.append((kind, response.json()["data"]["node"]))
        return response


def test_the_wait_polls_the_counts_and_lists_the_uploads_once(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    root = tmp_path / "polled"
    for rel, body in TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    client = Looks()
    found, problems = upload_folder(root, version, server.url, token, jobs=2, http=client)
    assert problems == [] and len(found.files) == len(TREE)
    kinds = [kind for kind, _ in client.seen]
    assert kinds.count("listing") == 1 and kinds[-1] == "listing"
    counts = [node["uploadCounts"] for kind, node in client.seen if kind == "counts"]
    assert counts and counts[-1] == [{"state": "READY", "count": len(TREE)}]
    # every look before the last saw a file still on its way
    assert all(any(c["state"] in MOVING for c in polled) for polled in counts[:-1])
    listing = client.seen[-1][1]["uploads"]
    assert sorted(u["path"] for u in listing) == sorted(TREE)
    assert {u["state"] for u in listing} == {"READY"}
