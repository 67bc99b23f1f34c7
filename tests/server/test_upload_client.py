"""The CLI uploader against a real `satreps serve` (embedded: SQLite, local objects)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from server.http.upload_client import UploadError, default_state_file, run, upload_file
from tests.fixtures.served import new_dataset
from tests.test_examples import EXAMPLES, Server, clean_env, free_port, graphql

MiB = 1024 * 1024
CSV = b"station,date,level_m\nBKK-01,2023-01-01,1.52\nBKK-01,2023-01-02,1.61\nAYU-07,2023-01-01,\n"

FILES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion { files { nodes { name size sha256 } } } } }"""
UPLOAD = """query($u: ID!) { node(id: $u) { ... on DatasetUpload { state } } }"""


def big_file(path: Path, size: int, seed: int) -> Path:
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with path.open("wb") as out:
        for _ in range(size // MiB):
            out.write(block)
        out.write(block[: size % MiB])
    return path


class PutCounter:
    """An httpx client that records the part number of every PUT it sends."""

    def __init__(self) -> None:
        self.puts: list[int] = []
        self.client = httpx.Client(
            timeout=60, event_hooks={"request": [self._seen], "response": []}
        )

    def _seen(self, request: httpx.Request) -> None:
        if request.method == "PUT":
            self.puts.append(int(request.url.params.get("part", "1")))


def test_small_csv_becomes_ready(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)

    result = upload_file(path, version, server.url, token, progress=False)

    assert result["state"] == "READY", result
    assert result["sha256"] == hashlib.sha256(CSV).hexdigest()
    assert result["partsSent"] == [1] and result["resumed"] is False
    assert not default_state_file(path).exists()
    files = graphql(server, token, FILES, v=version)["node"]["files"]["nodes"]
    assert files == [{"name": "levels.csv", "size": len(CSV), "sha256": result["sha256"]}]


def test_a_dataset_id_means_its_draft_and_run_prints_the_outcome(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    dataset, version = new_dataset(server, token, project)
    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)
    said: list[tuple[str, bool]] = []

    status = run(
        path, dataset, server.url, token, progress=True, echo=lambda m, e: said.append((m, e))
    )

    assert status == 0, said
    assert said[0][0].startswith("levels.csv: READY (upload ") and said[0][1] is False
    assert (
        graphql(server, token, FILES, v=version)["node"]["files"]["nodes"][0]["name"]
        == "levels.csv"
    )
    # the same name again: the payload error, one line per error
    again = run(
        path, dataset, server.url, token, progress=False, echo=lambda m, e: said.append((m, e))
    )
    assert again == 1
    assert said[-1] == (
        "error: the upload was refused:\n"
        "  filename: this version already has a file named 'levels.csv' (DUPLICATE_NAME)",
        True,
    )


def test_run_prints_the_warnings_of_a_ready_file(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = tmp_path / "ragged.csv"
    path.write_bytes(CSV + b"AYU-07,2023-01-02,1.7,EXTRA\n")
    said: list[tuple[str, bool]] = []

    status = run(path, version, server.url, token, False, echo=lambda m, e: said.append((m, e)))

    assert status == 0, said
    assert said[0] == (
        "warning: ragged.csv: RAGGED_ROWS: skipped 1 ragged row(s) (first: expected 3 fields,"
        " got 4: 'AYU-07,2023-01-02,1.7,EXTRA')",
        True,
    )
    assert said[1][0].startswith("ragged.csv: READY (upload ")


def test_a_large_file_goes_in_parts(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = big_file(tmp_path / "big.bin", 70 * MiB, seed=1)
    counter = PutCounter()

    result = upload_file(path, version, server.url, token, progress=False, http=counter.client)

    assert result["state"] == "READY", result
    assert counter.puts == [1, 2, 3, 4, 5]  # 16 MiB parts
    files = graphql(server, token, FILES, v=version)["node"]["files"]["nodes"]
    assert files[0]["size"] == 70 * MiB
    assert files[0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


class Crash(Exception):
    pass


def test_an_interrupted_multipart_upload_resumes_with_the_missing_parts_only(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = big_file(tmp_path / "resume.bin", 70 * MiB, seed=2)
    state_file = tmp_path / "state" / "resume.json"
    state_file.parent.mkdir()

    def crash_after_two(number: int) -> None:
        if number == 2:
            raise Crash

    first = PutCounter()
    with pytest.raises(Crash):
        upload_file(
            path, version, server.url, token, False, state_file,
            on_part=crash_after_two, http=first.client,
        )  # fmt: skip
    assert first.puts == [1, 2]
    state = json.loads(state_file.read_text())
    assert state["size"] == 70 * MiB and len(state["sha256"]) == 64
    assert graphql(server, token, UPLOAD, u=state["uploadId"])["node"]["state"] == (
        "AWAITING_UPLOAD"
    )

    second = PutCounter()
    result = upload_file(path, version, server.url, token, False, state_file, http=second.client)

    assert second.puts == [3, 4, 5]
    assert result["state"] == "READY" and result["resumed"] is True
    assert result["id"] == state["uploadId"]
    assert not state_file.exists()
    files = graphql(server, token, FILES, v=version)["node"]["files"]["nodes"]
    assert files[0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_changed_file_starts_over(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)

    def crash(number: int) -> None:
        raise Crash

    with pytest.raises(Crash):
        upload_file(path, version, server.url, token, progress=False, on_part=crash)
    old = json.loads(default_state_file(path).read_text())["uploadId"]
    path.write_bytes(CSV + b"AYU-07,2023-01-02,0.98\n")

    result = upload_file(path, version, server.url, token, progress=False)

    assert result["state"] == "READY" and result["resumed"] is False and result["id"] != old
    assert graphql(server, token, UPLOAD, u=old)["node"]["state"] == "ABORTED"
    files = graphql(server, token, FILES, v=version)["node"]["files"]["nodes"]
    assert files[0]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_wrong_token_is_a_clean_error(
    server: Server, project: tuple[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)
    with pytest.raises(UploadError, match="the server refused the token: invalid token"):
        upload_file(path, "RGF0YXNldFZlcnNpb246MQ==", server.url, "sh_forged", progress=False)
    assert not default_state_file(path).exists()


def test_a_missing_file_and_an_unreachable_server_are_clean_errors(
    server: Server, token: str, tmp_path: Path
) -> None:
    said: list[tuple[str, bool]] = []
    echo = lambda m, e: said.append((m, e))  # noqa: E731
    assert run(tmp_path / "nope.csv", "x", server.url, token, echo=echo) == 1
    assert said[-1] == (f"error: no such file: {tmp_path / 'nope.csv'}", True)

    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)
    nobody = f"http://127.0.0.1:{free_port()}/graphql"
    assert run(path, "x", nobody, token, progress=False, echo=echo) == 1
    assert said[-1][0].startswith(f"error: cannot connect to {nobody}: ")
    assert "is the server running?" in said[-1][0]


def test_an_unknown_dataset_is_a_clean_error(server: Server, token: str, tmp_path: Path) -> None:
    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)
    with pytest.raises(UploadError, match="no dataset or dataset version"):
        upload_file(path, "RGF0YXNldDo5OTk5OTk=", server.url, token, progress=False)


def test_the_example_script(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = tmp_path / "levels.csv"
    path.write_bytes(CSV)
    env = dict(server.env, SATREPS_TOKEN=token)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "upload_file.py"), "--url", server.url, str(path)]
        + ["--dataset", version, "--no-progress"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "levels.csv: READY" in done.stdout

    unused = clean_env("", tmp_path)  # no token at all: the server says so
    refused = subprocess.run(
        [sys.executable, str(EXAMPLES / "upload_file.py"), "--url", server.url, str(path)]
        + ["--dataset", version, "--no-progress"],
        env=unused,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "error:" in refused.stderr and "Traceback" not in refused.stderr


class Flaky(httpx.BaseTransport):
    """The real transport, but the first PUTs of part 2 fail: a 503, then a dropped connection."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.failures = [httpx.Response(503, text="store busy"), httpx.ConnectError("reset")]
        self.puts: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            part = int(request.url.params.get("part", "1"))
            self.puts.append(part)
            if part == 2 and self.failures:
                request.read()
                failure = self.failures.pop(0)
                if isinstance(failure, Exception):
                    raise failure
                return failure
        return self.real.handle_request(request)


def test_transient_part_failures_are_retried(
    server: Server, token: str, project: tuple[str, str], tmp_path: Path
) -> None:
    _, version = new_dataset(server, token, project)
    path = big_file(tmp_path / "flaky.bin", 65 * MiB, seed=3)
    flaky = Flaky()
    with httpx.Client(transport=flaky, timeout=60) as client:
        result = upload_file(path, version, server.url, token, progress=False, http=client)
    assert result["state"] == "READY", result
    assert flaky.puts == [1, 2, 2, 2, 3, 4, 5]
    assert result["partsSent"] == [1, 2, 3, 4, 5]
