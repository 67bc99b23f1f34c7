"""The researcher's uploader: `satreps upload FILE --dataset ID`.

The flow, through the public GraphQL API only:

1. sha256 of the file (streamed, never the whole file in memory);
2. `startUpload` on the dataset's draft version: `--dataset` takes a DatasetVersion id, or a
   Dataset id, in which case its open `draft` is used;
3. the bytes go straight to the URLs of the instructions: one PUT up to 64 MiB, parts of
   16 MiB above (each part read from its offset in the file); transient failures (connection
   errors, HTTP 5xx) are retried with a backoff (client_retry.py), and an expired or refused
   part URL is renewed once with `refreshUploadUrls`;
4. `completeUpload`, then `node(id)` is polled until READY, FAILED or REJECTED.

Resume: a small state file (`<file>.satreps-upload.json` next to the file, or the path given)
records the upload id, the file's size, mtime and sha256. Run the same command again after an
interruption: if the file is unchanged the sha256 is not recomputed, `upload(id) { partsReceived }`
tells which parts the store already has and only the missing ones are sent (with fresh URLs
from `refreshUploadUrls`). If the file changed, the old upload is aborted and the upload
starts over. The state file is removed once the upload reaches a final state.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import mimetypes
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from server.http.client_retry import (
    DATABASE_TRIES,
    TRIES,
    backoff,
    pause_before_retry,
    put_with_retries,
)
from server.http.progress import Advancing, Bars

if TYPE_CHECKING:
    from rich.console import Console

DEFAULT_URL = "http://127.0.0.1:8000/graphql"
CHUNK = 1024 * 1024
URLS_PER_REQUEST = 100  # the server hands out URLs for at most 100 parts per call
FINAL_STATES = {"READY", "FAILED", "REJECTED", "ABORTED"}
STATE_SUFFIX = ".satreps-upload.json"

TARGET = """query($id: ID!) { node(id: $id) { __typename
  ... on DatasetVersion { id }
  ... on Dataset { id draft { id } } } }"""
INSTRUCTIONS = """upload { id state }
  instructions { putUrl partSize partCount parts { partNumber url } expiresAt }
  errors { field code message }"""
START = f"""mutation($v: ID!, $name: String!, $size: Long!, $sha: String, $type: String) {{
  startUpload(datasetVersionId: $v, filename: $name, byteSize: $size, sha256: $sha,
              contentType: $type) {{ {INSTRUCTIONS} }} }}"""
REFRESH = f"""mutation($u: ID!, $parts: [Int!]) {{
  refreshUploadUrls(uploadId: $u, partNumbers: $parts) {{ {INSTRUCTIONS} }} }}"""
RECEIVED = """query($u: ID!) { upload(id: $u) { partsReceived { partNumber size etag } } }"""
COMPLETE = """mutation($u: ID!) { completeUpload(uploadId: $u) {
  upload { id state errorCode errorMessage } errors { field code message } } }"""
ABORT = """mutation($u: ID!) { abortUpload(uploadId: $u) {
  upload { id state } errors { field code message } } }"""
STATUS = """query($u: ID!) { node(id: $u) { ... on DatasetUpload {
  id state errorCode errorMessage warnings { code message } } } }"""


class UploadError(Exception):
    """A failure the uploader explains in one message (no traceback for the researcher);
    `code`: the server's, when a payload error caused it."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """One line per payload error: `field: message (CODE)`."""
    lines = []
    for error in errors:
        where = f"{error['field']}: " if error.get("field") else ""
        lines.append(f"  {where}{error['message']} ({error['code']})")
    return "\n".join(lines)


@dataclass
class FileFacts:
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None = None


@dataclass
class Plan:
    """Where the bytes go: one PUT URL, or part URLs (fetched 100 at a time)."""

    upload_id: str
    put_url: str | None
    part_size: int | None
    part_count: int | None
    part_urls: dict[int, str] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)  # the part numbers still to send

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Plan:
        instructions = payload["instructions"] or {}
        return cls(
            upload_id=payload["upload"]["id"],
            put_url=instructions.get("putUrl"),
            part_size=instructions.get("partSize"),
            part_count=instructions.get("partCount"),
            part_urls={p["partNumber"]: p["url"] for p in instructions.get("parts") or []},
        )


def default_state_file(path: Path) -> Path:
    return path.with_name(path.name + STATE_SUFFIX)


def sha256_of(path: Path, progress: Advancing | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress.advance(len(chunk))
    return digest.hexdigest()


class Uploader:
    """One file to one dataset version. `upload_file` below is the convenient entry point.

    `on_part(number)` is called after each part (or the single PUT) has been accepted by the
    store; raising from it interrupts the upload as a crash would (the state file stays).
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        http: httpx.Client | None = None,
        progress: bool = True,
        on_part: Callable[[int], None] | None = None,
        poll_timeout: float = 600.0,
        sleep: Callable[[float], None] = time.sleep,
        console: Console | None = None,
    ) -> None:
        self.url = url
        self.token = token
        self.http = http or httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))
        self._own_http = http is None
        self.progress = Bars(progress, console)
        self.on_part = on_part
        self.poll_timeout = poll_timeout
        self.sleep = sleep
        self.parts_sent: list[int] = []

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    # --- GraphQL -----------------------------------------------------------------------

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body = {"query": query, "variables": variables}
        for attempt in range(1, DATABASE_TRIES + 1):  # TRIES but for a database's 503s
            try:
                response = self.http.post(self.url, json=body, headers=headers)
            except httpx.ConnectError as error:
                if attempt >= TRIES:
                    raise UploadError(
                        f"cannot connect to {self.url}: {error} (is the server running?)"
                    ) from None
                pause = backoff(attempt)
            except httpx.TransportError as error:
                if attempt >= TRIES:
                    raise UploadError(f"no answer from {self.url}: {error!r}") from None
                pause = backoff(attempt)
            else:
                if (answered := pause_before_retry(response, attempt)) is None:
                    return self._data(response)
                pause = answered
            self.sleep(pause)
        raise AssertionError("unreachable")

    def _data(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise UploadError(
                f"{self.url} did not answer as a GraphQL endpoint (HTTP {response.status_code})"
            ) from None
        messages = "; ".join(e.get("message", str(e)) for e in body.get("errors") or [])
        if response.status_code == 401:
            raise UploadError(
                f"the server refused the token: {messages or 'unauthenticated'}"
                " (check --token or $SATREPS_TOKEN)"
            )
        if messages or not isinstance(body.get("data"), dict):
            raise UploadError(
                f"the server refused the request: {messages or f'HTTP {response.status_code}'}"
            )
        data: dict[str, Any] = body["data"]
        return data

    def _payload(self, data: dict[str, Any], name: str, what: str) -> dict[str, Any]:
        payload: dict[str, Any] = data[name]
        if payload["errors"]:
            errors = payload["errors"]
            raise UploadError(f"{what}:\n{describe_errors(errors)}", errors[0]["code"])
        return payload

    # --- the target -------------------------------------------------------------------

    def resolve_version(self, dataset_id: str) -> str:
        """A DatasetVersion id as is; a Dataset id becomes its open draft's id."""
        node = self.graphql(TARGET, id=dataset_id)["node"]
        if node is None:
            raise UploadError(
                f"no dataset or dataset version {dataset_id!r} visible with this token"
            )
        if node["__typename"] == "DatasetVersion":
            return str(node["id"])
        if node["__typename"] == "Dataset":
            if node["draft"] is None:
                raise UploadError(
                    f"dataset {dataset_id} has no open draft version: start one"
                    " (startDatasetDraft) before uploading"
                )
            return str(node["draft"]["id"])
        raise UploadError(f"{dataset_id!r} is a {node['__typename']}, not a dataset")

    # --- the whole flow ---------------------------------------------------------------

    def upload(
        self,
        path: Path,
        dataset_id: str,
        state_file: Path | None = None,
        *,
        sha256: str | None = None,
    ) -> dict[str, Any]:
        """`sha256`: the file's, when the caller has it already (not computed again)."""
        path = Path(path)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise UploadError(f"no such file: {path}") from None
        except OSError as error:
            raise UploadError(f"cannot read {path}: {error.strerror}") from None
        if not path.is_file():
            raise UploadError(f"not a regular file: {path}")
        if stat.st_size == 0:
            raise UploadError(f"{path} is empty: a 0-byte file carries no data")
        facts = FileFacts(path, stat.st_size, stat.st_mtime_ns, sha256)
        state_path = state_file or default_state_file(path)
        version_id = self.resolve_version(dataset_id)
        with self.progress:
            plan, upload_state, resumed = self._resume(state_path, facts, version_id)
            if plan is None and upload_state is None:
                plan = self._start(facts, version_id, state_path)
            if plan is not None:
                self._send(facts, plan)
                upload_state = "AWAITING_UPLOAD"
            assert upload_state is not None
            upload_id = plan.upload_id if plan else self._state(state_path)["uploadId"]
            if upload_state in ("AWAITING_UPLOAD", "UPLOADED"):
                payload = self.graphql(COMPLETE, u=upload_id)
                self._payload(payload, "completeUpload", "the upload could not be completed")
            final = self.wait(upload_id)
        with contextlib.suppress(FileNotFoundError):
            state_path.unlink()
        return {
            **final,
            "filename": path.name,
            "size": facts.size,
            "sha256": facts.sha256,
            "datasetVersionId": version_id,
            "resumed": resumed,
            "partsSent": list(self.parts_sent),
        }

    # --- state file -------------------------------------------------------------------

    @staticmethod
    def _state(state_path: Path) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(state_path.read_text())
            return state
        except (OSError, ValueError):
            return {}

    def _save_state(self, state_path: Path, facts: FileFacts, version_id: str, upload: str) -> None:
        state = {
            "uploadId": upload,
            "datasetVersionId": version_id,
            "url": self.url,
            "path": str(facts.path.resolve()),
            "size": facts.size,
            "mtimeNs": facts.mtime_ns,
            "sha256": facts.sha256,
            "startedAt": dt.datetime.now(dt.UTC).isoformat(),
        }
        try:
            state_path.write_text(json.dumps(state, indent=2))
        except OSError as error:
            self.progress.log(f"warning: cannot write {state_path} ({error.strerror}): no resume")

    def _resume(
        self, state_path: Path, facts: FileFacts, version_id: str
    ) -> tuple[Plan | None, str | None, bool]:
        """(plan for the missing bytes, or None; upload state, or None to start over; resumed)"""
        state = self._state(state_path)
        if not state.get("uploadId"):
            return None, None, False
        upload_id = state["uploadId"]
        same_file = (state.get("size"), state.get("mtimeNs")) == (facts.size, facts.mtime_ns)
        same_target = (state.get("datasetVersionId"), state.get("url")) == (version_id, self.url)
        node = self.graphql(STATUS, u=upload_id)["node"] if same_target else None
        current = node["state"] if node else None
        if not (same_file and same_target and state.get("sha256")) or current in (
            None,
            "FAILED",
            "REJECTED",
            "ABORTED",
        ):
            if same_target and current in ("AWAITING_UPLOAD", "UPLOADED"):
                self.graphql(ABORT, u=upload_id)  # frees the file name for the new upload
            self.progress.log("the file or the target changed since last time: starting over")
            return None, None, False
        facts.sha256 = state["sha256"]
        if current != "AWAITING_UPLOAD":  # the bytes are all there already
            return None, current, True
        first = self._payload(
            self.graphql(REFRESH, u=upload_id, parts=None),
            "refreshUploadUrls",
            "the upload could not be resumed",
        )
        plan = Plan.from_payload(first)
        if plan.put_url is None:
            assert plan.part_size and plan.part_count
            received = (self.graphql(RECEIVED, u=upload_id)["upload"] or {}).get(
                "partsReceived", []
            )
            have = {
                p["partNumber"]
                for p in received
                if p["size"] == self._part_length(facts, plan, p["partNumber"])
            }
            plan.part_urls = {n: u for n, u in plan.part_urls.items() if n not in have}
            plan.missing = [n for n in range(1, plan.part_count + 1) if n not in have]
            self.progress.log(
                f"resuming upload {upload_id}: {len(have)} of {plan.part_count} parts"
                " already received"
            )
        return plan, "AWAITING_UPLOAD", True

    def _start(self, facts: FileFacts, version_id: str, state_path: Path) -> Plan:
        if facts.sha256 is None:
            self.progress.task("sha256", facts.size)
            facts.sha256 = sha256_of(facts.path, self.progress)
        content_type = mimetypes.guess_type(facts.path.name)[0]
        payload = self._payload(
            self.graphql(
                START,
                v=version_id,
                name=facts.path.name,
                size=facts.size,
                sha=facts.sha256,
                type=content_type,
            ),
            "startUpload",
            "the upload was refused",
        )
        plan = Plan.from_payload(payload)
        if plan.part_count:
            plan.missing = list(range(1, plan.part_count + 1))
        self._save_state(state_path, facts, version_id, plan.upload_id)
        return plan

    # --- bytes ------------------------------------------------------------------------

    @staticmethod
    def _part_length(facts: FileFacts, plan: Plan, number: int) -> int:
        assert plan.part_size
        return min(plan.part_size, facts.size - (number - 1) * plan.part_size)

    def _send(self, facts: FileFacts, plan: Plan) -> None:
        if plan.put_url is not None:
            self.progress.task(f"upload {facts.path.name}", facts.size)
            self._put(plan, None, facts.path, 0, facts.size)
            return
        assert plan.part_size
        missing = plan.missing
        done = facts.size - sum(self._part_length(facts, plan, n) for n in missing)
        self.progress.task(f"upload {facts.path.name}", facts.size, completed=done)
        for number in missing:
            if number not in plan.part_urls:
                self._fetch_urls(plan, [n for n in missing if n >= number][:URLS_PER_REQUEST])
            offset = (number - 1) * plan.part_size
            self._put(plan, number, facts.path, offset, self._part_length(facts, plan, number))

    def _fetch_urls(self, plan: Plan, numbers: list[int]) -> None:
        payload = self._payload(
            self.graphql(REFRESH, u=plan.upload_id, parts=numbers),
            "refreshUploadUrls",
            "no URLs for the next parts",
        )
        plan.part_urls.update(Plan.from_payload(payload).part_urls)

    def _put(self, plan: Plan, number: int | None, path: Path, offset: int, length: int) -> None:
        what = f"part {number}" if number else "the file"

        def given() -> str:
            url = plan.put_url if number is None else plan.part_urls[number]
            assert url is not None
            return url

        problem = put_with_retries(
            self,
            given,
            lambda sent: self._read(path, offset, length, sent),
            length,
            refresh=lambda: self._refresh_one(plan, number),
            take_back=self.progress.advance,
            log=lambda problem: self.progress.log(f"{what}: {problem}; trying again"),
        )
        if problem is not None:
            raise UploadError(
                f"sending {what} failed: {problem}\n"
                "  run the same command again to resume where it stopped"
            )
        self.parts_sent.append(number or 1)
        if self.on_part is not None:
            self.on_part(number or 1)

    def _refresh_one(self, plan: Plan, number: int | None) -> None:
        payload = self._payload(
            self.graphql(REFRESH, u=plan.upload_id, parts=None if number is None else [number]),
            "refreshUploadUrls",
            "could not renew the upload URL",
        )
        fresh = Plan.from_payload(payload)
        if number is None:
            plan.put_url = fresh.put_url
        else:
            plan.part_urls.update(fresh.part_urls)

    def _read(self, path: Path, offset: int, length: int, sent: list[int]) -> Iterator[bytes]:
        with path.open("rb") as stream:
            stream.seek(offset)
            left = length
            while left > 0:
                chunk = stream.read(min(CHUNK, left))
                if not chunk:
                    raise UploadError(f"{path} got shorter while being sent")
                left -= len(chunk)
                sent[0] += len(chunk)
                self.progress.advance(len(chunk))
                yield chunk

    # --- after the bytes --------------------------------------------------------------

    def wait(self, upload_id: str) -> dict[str, Any]:
        """Poll the upload until it is READY, FAILED or REJECTED (or the timeout)."""
        deadline = time.monotonic() + self.poll_timeout
        pause = 0.2
        while True:
            node = self.graphql(STATUS, u=upload_id)["node"]
            if node is None:
                raise UploadError(f"upload {upload_id} is no longer visible")
            if node["state"] in FINAL_STATES:
                result: dict[str, Any] = node
                return result
            if time.monotonic() > deadline:
                raise UploadError(
                    f"upload {upload_id} is still {node['state']} after {self.poll_timeout:.0f} s;"
                    " the server keeps processing it: check its state later"
                )
            self.sleep(pause)
            pause = min(pause * 1.5, 3.0)


def upload_file(
    path: str | Path,
    dataset_version_id: str,
    url: str = DEFAULT_URL,
    token: str | None = None,
    progress: bool = True,
    state_file: str | Path | None = None,
    *,
    poll_timeout: float = 600.0,
    on_part: Callable[[int], None] | None = None,
    http: httpx.Client | None = None,
) -> dict[str, Any]:
    """Upload one file to a dataset's draft version; resume an interrupted one.

    `dataset_version_id` is a DatasetVersion id, or a Dataset id (its open draft is used).
    Returns the upload's final `{id, state, errorCode, errorMessage, warnings}` plus
    `filename`, `size`, `sha256`, `datasetVersionId`, `resumed` and `partsSent` (the part
    numbers sent by this run). Raises `UploadError` with a readable message when the upload
    cannot go on.
    """
    uploader = Uploader(
        url, token, http=http, progress=progress, on_part=on_part, poll_timeout=poll_timeout
    )
    try:
        return uploader.upload(
            Path(path), dataset_version_id, Path(state_file) if state_file else None
        )
    finally:
        uploader.close()


def run(
    path: str | Path,
    dataset: str,
    url: str = DEFAULT_URL,
    token: str | None = None,
    progress: bool = True,
    state_file: str | Path | None = None,
    poll_timeout: float = 600.0,
    echo: Callable[[str, bool], None] | None = None,
) -> int:
    """The CLI's body: upload, print the outcome, return the exit status (0 only for READY)."""

    def say(message: str, err: bool = False) -> None:
        if echo is not None:
            echo(message, err)
        else:
            print(message, file=sys.stderr if err else sys.stdout)

    try:
        result = upload_file(
            path, dataset, url, token, progress, state_file, poll_timeout=poll_timeout
        )
    except UploadError as error:
        say(f"error: {error}", True)
        return 1
    except KeyboardInterrupt:
        say("interrupted: run the same command again to resume the upload", True)
        return 130
    for warning in result.get("warnings") or []:
        say(f"warning: {result['filename']}: {warning['code']}: {warning['message']}", True)
    if result["state"] == "READY":
        say(f"{result['filename']}: READY (upload {result['id']}, sha256 {result['sha256']})")
        return 0
    code = result.get("errorCode") or "no error code"
    message = result.get("errorMessage") or "no message"
    say(f"error: {result['filename']}: {result['state']} ({code}): {message}", True)
    return 1
