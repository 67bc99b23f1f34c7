"""The transfer of `satreps upload DIR` (server/http/folder_upload.py) and its state file:
the sha256 of the walked files, N at a time; files up to SINGLE_PUT_MAX in chunks of
FILES_PER_CHUNK, declared by one `startUploads`, their bytes sent N files in flight,
queued by one `completeUploads`; a larger file through the one-file flow (multipart,
resumable) at its path; the wait until the version's uploads are settled and the listing of
its READY files. The state file records per relative path its size, mtime, sha256, upload
id and how far it went, so a second run hashes, declares and sends only what is left. The
bars: a sha256 row, the overall row, a row per file in flight (server/http/progress.py)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import fields
from pathlib import Path
from typing import Any

from server.datasets.upload_jobs import sized_runs
from server.http.client_retry import BAD_DIGEST, put_with_retries
from server.http.folder_walk import FileCode, Local
from server.http.progress import Advancing, Bars
from server.http.upload_client import (
    CHUNK,
    FINAL_STATES,
    REFRESH,
    Uploader,
    UploadError,
    describe_errors,
    sha256_of,
)
from server.http.upload_client import START as ONE_START

BATCH = 1000  # startUploads and completeUploads take at most this many
FILES_PER_CHUNK = 500  # one startUploads, then the files sent, then one completeUploads
BYTES_PER_CHUNK = 64 * 1024 * 1024  # and at most this many bytes: a chunk of bigger files
# is completed, and processed, while the next ones go
SINGLE_PUT_MAX = 64 * 1024 * 1024
AHEAD = 2  # chunks declared before their bytes go: a chunk's declaration does not wait
# for the completion of the one just before it (its last bytes are still on the way)
SAVE_EVERY = 2.0  # seconds between two writes of the state file while bytes are sent
# what the state file keeps of a Local: all but this run's URL and refusal
KEPT = tuple(f.name for f in fields(Local) if f.name not in ("put_url", "refused", "code"))
START = """mutation($v: ID!, $files: [UploadFileInput!]!) {
  startUploads(datasetVersionId: $v, files: $files) {
    entries { index upload { id } instructions { putUrl } errors { field code message } }
    errors { field code message } } }"""
COMPLETE = """mutation($ids: [ID!]!) { completeUploads(uploadIds: $ids) {
    entries { index upload { id state } errors { field code message } }
    errors { field code message } } }"""
COUNTS = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    uploadCounts { state count } } } }"""
UPLOADS = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    uploads { id path state errorCode errorMessage warnings { code message } } } } }"""
FILES = """query($v: ID!, $after: String) { node(id: $v) { ... on DatasetVersion {
    files(first: 1000, after: $after) { nodes { path sha256 }
      pageInfo { hasNextPage endCursor } } } } }"""


class _AtPath(Uploader):
    """The one-file uploader, declaring its file at a path inside the version."""

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path_in_version = path

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        if query is ONE_START:
            variables["name"] = self.path_in_version
        return super().graphql(query, **variables)


class _Rows:
    """Bytes counted on some rows at once: a file's and the overall one, or the sha256 one;
    `close` removes the first (a file's, once it is sent)."""

    def __init__(self, bars: Bars, *rows: Any) -> None:
        self.bars, self.rows = bars, rows

    def advance(self, amount: int) -> None:
        for row in self.rows:
            self.bars.advance(amount, row)

    def close(self) -> None:
        self.bars.remove(self.rows[0])


class FolderBar:
    """The folder's display: a sha256 row while hashing, the overall row (bytes sent of all
    the folder's, files settled: READY, failed or refused), the files in flight beneath."""

    def __init__(self, bars: Bars) -> None:
        self.bars = bars
        self.overall: Any = None
        self.total_files = 0

    def hashing(self, total: int) -> Advancing:
        return _Rows(self.bars, self.bars.add("sha256", total))

    def start(self, files: list[Local]) -> None:
        self.total_files = len(files)
        total = sum(f.size for f in files)
        sent = sum(f.size for f in files if f.sent)
        self.overall = self.bars.add("upload", total, sent, self.count(0))

    def count(self, settled: int, failed: int = 0) -> str:
        tail = f" ({failed} failed)" if failed else ""
        return f"{settled}/{self.total_files} files{tail}"

    def settled(self, settled: int, failed: int = 0, description: str | None = None) -> None:
        changes: dict[str, Any] = {"files": self.count(settled, failed)}
        if description is not None:
            changes["description"] = description
        self.bars.update(self.overall, **changes)

    def file(self, path: str, size: int, completed: int = 0) -> _Rows:
        """A row for a file in flight, its bytes counted on the overall row too."""
        return _Rows(self.bars, self.bars.add(f"  {path}", size, completed), self.overall)


class _Forwarded(Bars):
    """The one-file flow's display, folded into the folder's: its upload row becomes the
    file's row beneath the overall bar (a resumed multipart's parts already sent count)."""

    def __init__(self, bar: FolderBar, path: str) -> None:
        super().__init__(False)
        self.bar, self.path = bar, path
        self.row: _Rows | None = None

    def __enter__(self) -> Bars:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.row is not None:
            self.row.close()

    def add(self, description: str, total: int, completed: int = 0, files: str = "") -> Any:
        if self.row is None:
            self.row = self.bar.file(self.path, total, completed)
            self.bar.bars.advance(completed, self.bar.overall)
        return self.row

    def advance(self, amount: int, row: Any = None) -> None:
        if self.row is not None:
            self.row.advance(amount)

    def log(self, message: str) -> None:
        self.bar.bars.log(message)


class FolderUpload:
    def __init__(
        self,
        uploader: Uploader,
        root: Path,
        version: str,
        state_file: Path,
        jobs: int,
        say: Callable[[str], None],
        bar: FolderBar | None = None,
    ) -> None:
        self.up, self.root, self.version = uploader, root, version
        self.state_file, self.jobs, self.say = state_file, max(1, jobs), say
        self.bar = bar or FolderBar(Bars(False))
        self.lock = threading.Lock()

    # --- state ------------------------------------------------------------------------

    def merge_state(self, files: list[Local]) -> None:
        """Take over what an earlier run did for files that have not changed since."""
        try:
            saved = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        if saved.get("version") != self.version:
            return
        earlier = {f["path"]: f for f in saved.get("files", [])}
        for local in files:
            before = earlier.get(local.path)
            if before and (before["size"], before["mtime_ns"]) == (local.size, local.mtime_ns):
                for key in ("sha256", "upload", "sent", "completed"):
                    setattr(local, key, before[key])

    def save(self, files: list[Local]) -> None:
        with self.lock:
            kept = [{k: getattr(f, k) for k in KEPT} for f in files]
            body = {"version": self.version, "files": kept}
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(body))
            tmp.replace(self.state_file)

    # --- the flow ---------------------------------------------------------------------

    def run(self, files: list[Local]) -> None:
        self.merge_state(files)
        todo = [f for f in files if f.sha256 is None]
        if todo:
            hashed = self.bar.hashing(sum(f.size for f in todo))
            pool = ThreadPoolExecutor(self.jobs)
            try:
                digests = pool.map(lambda f: sha256_of(self.root / f.path, hashed), todo)
                for local, digest in zip(todo, digests, strict=True):
                    local.sha256 = digest
            finally:  # interrupted: the sha256 computed so far are kept
                pool.shutdown(cancel_futures=True)
                self.save(files)
        else:
            self.save(files)
        self.bar.start(files)
        small = [f for f in files if f.size <= SINGLE_PUT_MAX]
        self.pipeline([f for f in small if not f.completed and not f.refused], files)
        for local in files:
            if local.size > SINGLE_PUT_MAX and not local.completed:
                self.large(local)
                self.save(files)

    def pipeline(self, pending: list[Local], files: list[Local]) -> None:
        """Chunk by chunk, declared, sent and completed, the calls overlapping the bytes:
        one thread of calls declares the next chunk while this one is sent, then completes
        this one once its last file is sent (the server processes a chunk meanwhile). One
        pool of N senders takes chunk after chunk, so the bytes do not stop at the end of
        a chunk. The calls go one at a time, in order (the embedded server's SQLite takes
        one writer)."""
        chunks = list(sized_runs(pending, FILES_PER_CHUNK, BYTES_PER_CHUNK))
        if not chunks:
            return
        with ThreadPoolExecutor(1, thread_name_prefix="satreps-calls") as calls:
            senders = ThreadPoolExecutor(self.jobs, thread_name_prefix="satreps-put")
            progress = _Sent(self, files, sum(len(chunk) for chunk in chunks), senders)
            try:
                declared = [calls.submit(self._declared, c, files) for c in chunks[:AHEAD]]
                completions: list[Future[None]] = []
                for at, chunk in enumerate(chunks):
                    declared[at].result()  # its failure (the batch refused) ends the run here
                    for completion in completions:  # and so does a sender's failure
                        if completion.done():
                            completion.result()
                    if at + AHEAD < len(chunks):
                        declared.append(calls.submit(self._declared, chunks[at + AHEAD], files))
                    todo = [f for f in chunk if f.upload and not f.sent and not f.refused]
                    sending = self.send(todo, progress)
                    completions.append(calls.submit(self._completed, chunk, files, sending))
                for completion in completions:
                    completion.result()
            finally:  # interrupted: the files in flight finish, the queued ones wait
                senders.shutdown(cancel_futures=True)
                self.save(files)

    def _declared(self, chunk: list[Local], files: list[Local]) -> None:
        if declare := [f for f in chunk if f.upload is None]:
            self.declare(declare)
            self.save(files)
            refused = sum(1 for f in files if f.refused)
            self.bar.settled(refused, refused)

    def _completed(
        self, chunk: list[Local], files: list[Local], sending: list[Future[None]]
    ) -> None:
        """Completes the chunk's sent files once none is in flight (a sender's failure is
        raised here; a send cancelled by an interruption is left for the next run)."""
        for future in sending:  # (not futures.wait: a future cancelled by the senders'
            try:  # shutdown never tells its waiters)
                error = future.exception()
            except CancelledError:
                continue
            if error is not None:
                raise error
        if complete := [f for f in chunk if f.sent and not f.completed]:
            self.complete(complete)
            self.save(files)

    def declare(self, chunk: list[Local]) -> None:
        given = [{"path": f.path, "byteSize": f.size, "sha256": f.sha256} for f in chunk]
        payload = self.up.graphql(START, v=self.version, files=given)["startUploads"]
        if payload["errors"]:
            raise UploadError(
                "the server refused the batch:\n" + describe_errors(payload["errors"])
            )
        for local, entry in zip(chunk, payload["entries"], strict=True):
            if entry["errors"]:
                local.refuse(entry["errors"][0]["code"], _messages(entry["errors"]))
            else:
                local.upload = entry["upload"]["id"]
                local.put_url = entry["instructions"]["putUrl"]

    def send(self, todo: list[Local], progress: _Sent) -> list[Future[None]]:
        """The chunk's bytes handed to the senders (what was sent is saved every few
        seconds, and when a PUT or the user interrupts the run, so the next run sends
        only the rest); the senders' futures."""
        for local in todo:  # declared by an earlier run: fresh URLs, one call at a time
            if local.put_url is None:  # (the embedded server's SQLite takes one writer)
                local.put_url = self._fresh_url(local)
        return progress.submit(self.put, todo)

    def _fresh_url(self, local: Local) -> str:
        refreshed = self.up.graphql(REFRESH, u=local.upload, parts=None)["refreshUploadUrls"]
        if refreshed["errors"]:
            raise UploadError(
                f"{local.path}: no new upload URL:\n" + describe_errors(refreshed["errors"])
            )
        url: str = refreshed["instructions"]["putUrl"]
        return url

    def put(self, local: Local) -> None:
        """One file's bytes, streamed, with the one-file flow's patience (put_with_retries:
        an expired URL renewed once, network errors and 5xx tried again); a store that still
        refuses marks the file TRANSFER_FAILED and the others go on."""
        row = self.bar.file(local.path, local.size)

        def given() -> str:
            assert local.put_url is not None
            return local.put_url

        def refresh() -> None:
            with self.lock:  # one call at a time (the embedded server's SQLite)
                local.put_url = self._fresh_url(local)

        try:
            problem = put_with_retries(
                self.up,
                given,
                lambda sent: _read(self.root / local.path, local.size, row, sent),
                local.size,
                refresh=refresh,
                take_back=lambda amount: row.advance(-amount),
                log=lambda problem: self.bar.bars.log(f"{local.path}: {problem}; trying again"),
            )
            if problem is None:
                local.sent = True
            elif problem == BAD_DIGEST:
                local.refuse(FileCode.CHECKSUM_MISMATCH, problem)
            else:
                local.refuse(FileCode.TRANSFER_FAILED, problem)
        finally:
            row.close()

    def complete(self, chunk: list[Local]) -> None:
        ids = [f.upload for f in chunk]
        payload = self.up.graphql(COMPLETE, ids=ids)["completeUploads"]
        if payload["errors"]:
            raise UploadError("completeUploads refused:\n" + describe_errors(payload["errors"]))
        for local, entry in zip(chunk, payload["entries"], strict=True):
            if entry["errors"]:
                local.refuse(entry["errors"][0]["code"], _messages(entry["errors"]))
            local.completed = True

    def large(self, local: Local) -> None:
        """A file over 64 MiB: the one-file flow (multipart, resumable from its own state
        file beside the folder's), declared at its path, its bytes on the folder's bar."""
        one = _AtPath(local.path, self.up.url, self.up.token, http=self.up.http, progress=False)
        one.poll_timeout = self.up.poll_timeout
        one.progress = forwarded = _Forwarded(self.bar, local.path)
        key = hashlib.sha256(local.path.encode()).hexdigest()[:16]
        try:
            result = one.upload(
                self.root / local.path,
                self.version,
                self.state_file.with_name(f"{self.state_file.name}.{key}"),
                sha256=local.sha256,
            )
        except UploadError as error:  # refused, or its bytes could not go: this file only
            reason = " ".join(line.strip() for line in str(error).splitlines())
            local.refuse(error.code or FileCode.TRANSFER_FAILED, reason)
            return
        if forwarded.row is None:  # all its bytes had gone in an earlier run
            self.bar.bars.advance(local.size, self.bar.overall)
        local.upload, local.sent, local.completed = result["id"], True, True

    def wait(self, files: list[Local], timeout: float) -> dict[str, dict[str, Any]]:
        """The version's uploads by path once none is still on its way (or time is up).

        While any is (UPLOADED, QUEUED, PROCESSING), the version's counts by state are
        polled: a few rows, where the listing holds every upload of the version (100,000
        of them, every two seconds, for a big folder). The uploads are listed once, at the
        end; the bar counts the files still on their way until then, its failures after."""
        deadline = time.monotonic() + timeout
        mine = {f.path for f in files if not f.refused}
        refused = len(files) - len(mine)
        while True:
            counts = self.up.graphql(COUNTS, v=self.version)["node"]["uploadCounts"]
            moving = sum(c["count"] for c in counts if c["state"] in MOVING)
            self.bar.settled(max(len(mine) - moving, 0) + refused, refused, "processing")
            if not moving or time.monotonic() > deadline:
                break
            self.up.sleep(POLL)
        node = self.up.graphql(UPLOADS, v=self.version)["node"]
        latest: dict[str, dict[str, Any]] = {}
        for upload in node["uploads"]:
            latest[upload["path"]] = upload  # in id order: the newest last
        states = [latest[p]["state"] for p in mine if p in latest]
        settled = sum(1 for state in states if state in SETTLED)
        failed = sum(1 for state in states if state in SETTLED and state != "READY")
        self.bar.settled(settled + refused, failed + refused, "processing")
        return latest

    def ready_files(self) -> dict[str, str]:
        found: dict[str, str] = {}
        after = None
        while True:
            page = self.up.graphql(FILES, v=self.version, after=after)["node"]["files"]
            found.update((n["path"], n["sha256"]) for n in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]


SETTLED = FINAL_STATES | {"QUARANTINED"}
MOVING = {"UPLOADED", "QUEUED", "PROCESSING"}  # neither settled nor waiting for its bytes
POLL = 0.5  # seconds between two looks at the counts


def _messages(errors: list[dict[str, Any]]) -> str:
    return "; ".join(e["message"] for e in errors)


def _read(path: Path, size: int, row: Advancing, sent: list[int]) -> Iterator[bytes]:
    with path.open("rb") as stream:
        left = size
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                raise UploadError(f"{path} got shorter while being sent")
            left -= len(chunk)
            sent[0] += len(chunk)
            row.advance(len(chunk))
            yield chunk


class _Sent:
    """Counts the files sent; saves the state file every few seconds, not every few files
    (10,000 files: 30 ms a write), and says how far it went when no bars are shown. A
    sender's failure (a crash, not a refused file: `put` settles those) stops the others:
    the files in flight finish, the queued ones are left for the next run."""

    def __init__(
        self, transfer: FolderUpload, files: list[Local], total: int, senders: ThreadPoolExecutor
    ) -> None:
        self.transfer, self.files, self.total, self.senders = transfer, files, total, senders
        self.done, self.saved = 0, time.monotonic()
        self.failed: BaseException | None = None
        self.lock = threading.Lock()

    def submit(self, put: Callable[[Local], None], todo: list[Local]) -> list[Future[None]]:
        try:
            return [self.senders.submit(self.after, put, local) for local in todo]
        except RuntimeError:  # the senders were stopped by a sender's failure: that one
            if self.failed is not None:
                raise self.failed from None
            raise

    def after(self, put: Callable[[Local], None], local: Local) -> None:
        try:
            put(local)
        except BaseException as error:
            self.failed = self.failed or error
            self.senders.shutdown(wait=False, cancel_futures=True)
            raise
        with self.lock:
            self.done += 1
            done, due = self.done, time.monotonic() - self.saved >= SAVE_EVERY
            if due:
                self.saved = time.monotonic()
        if due:
            self.transfer.save(self.files)
        if done % 100 == 0 and not self.transfer.bar.bars.shown:
            self.transfer.say(f"sent {done}/{self.total} files")
