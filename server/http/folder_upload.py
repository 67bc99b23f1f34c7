"""`satreps upload DIR --dataset ID`: a folder, recursively, into a dataset's draft.

Through the public GraphQL API only, reusing the one-file uploader's client
(`upload_client.Uploader`: retries, the token, the target version):

1. the folder is walked (symlinked folders are listed and not followed, so a symlink loop
   cannot trap the walk; symlinked files are read where they point), `--include` and
   `--exclude` globs apply to the path relative to DIR (and to the bare name);
2. the files' sha256 are computed, N at a time;
3. files up to 64 MiB go in chunks of CHUNK: declared by one `startUploads`, their bytes
   sent to the URLs N files in flight, queued by one `completeUploads` (the server
   processes a chunk while the next is sent); a larger file goes through the one-file flow
   (multipart, resumable) on its own;
4. the uploads are awaited, then the manifest check: every local file's sha256 must match
   the READY file of the same path in the version; anything else is listed with its reason.

Resume: the state file (`<DIR>.satreps-upload.json` beside the folder, or the path given)
records per relative path its size, mtime, sha256, upload id and how far it went. Run the
same command again: unchanged files are not hashed again, declared ones are not declared
again (their URLs are renewed), sent ones are not sent again. It is removed when every
file checks out.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from server.http.upload_client import (
    FINAL_STATES,
    REFRESH,
    Uploader,
    UploadError,
    describe_errors,
    sha256_of,
)
from server.http.upload_client import START as ONE_START

BATCH = 1000  # startUploads and completeUploads take at most this many
CHUNK = 500  # files declared, sent and completed before the next chunk's
SINGLE_PUT_MAX = 64 * 1024 * 1024
START = """mutation($v: ID!, $files: [UploadFileInput!]!) {
  startUploads(datasetVersionId: $v, files: $files) {
    entries { index upload { id } instructions { putUrl } errors { field code message } }
    errors { field code message } } }"""
COMPLETE = """mutation($ids: [ID!]!) { completeUploads(uploadIds: $ids) {
    entries { index upload { id state } errors { field code message } }
    errors { field code message } } }"""
UPLOADS = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    uploads { id path state errorCode errorMessage } } } }"""
FILES = """query($v: ID!, $after: String) { node(id: $v) { ... on DatasetVersion {
    files(first: 100, after: $after) { nodes { path sha256 }
      pageInfo { hasNextPage endCursor } } } } }"""


@dataclass
class Local:
    """A file of the folder and how far it went (what the state file keeps)."""

    path: str  # relative to DIR, with /
    size: int
    mtime_ns: int
    sha256: str | None = None
    upload: str | None = None
    sent: bool = False
    completed: bool = False
    refused: str | None = None  # why the server refused it
    put_url: str | None = field(default=None, repr=False)  # this run's, not kept


@dataclass
class Scan:
    files: list[Local] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


def _matches(rel: str, patterns: Iterable[str]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(rel, p) or fnmatch.fnmatchcase(name, p) for p in patterns)


def scan(root: Path, include: list[str], exclude: list[str], state_file: Path) -> Scan:
    """The files under `root` the globs keep, in path order; what was left out, and why."""
    found = Scan()
    for folder, dirs, names in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in sorted(dirs):
            if (base / name).is_symlink():
                rel = (base / name).relative_to(root).as_posix()
                found.skipped.append((rel, "a symlink to a folder (not followed)"))
        dirs.sort()
        for name in sorted(names):
            full = base / name
            rel = full.relative_to(root).as_posix()
            if full == state_file or (include and not _matches(rel, include)):
                continue
            if _matches(rel, exclude):
                continue
            try:
                stat = full.stat()  # follows a symlinked file
            except OSError as error:
                found.skipped.append((rel, f"cannot be read: {error.strerror}"))
                continue
            if not full.is_file():
                found.skipped.append((rel, "not a regular file"))
            elif stat.st_size == 0:
                found.skipped.append((rel, "empty (0 bytes carry no data)"))
            else:
                found.files.append(Local(rel, stat.st_size, stat.st_mtime_ns))
    found.files.sort(key=lambda f: f.path)
    return found


class _AtPath(Uploader):
    """The one-file uploader, declaring its file at a path inside the version."""

    def __init__(self, path: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.path_in_version = path

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        if query is ONE_START:
            variables["name"] = self.path_in_version
        return super().graphql(query, **variables)


class FolderUpload:
    def __init__(
        self,
        uploader: Uploader,
        root: Path,
        version: str,
        state_file: Path,
        jobs: int,
        say: Callable[[str], None],
    ) -> None:
        self.up, self.root, self.version = uploader, root, version
        self.state_file, self.jobs, self.say = state_file, max(1, jobs), say
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
            kept = [{k: v for k, v in asdict(f).items() if k != "put_url"} for f in files]
            body = {"version": self.version, "files": kept}
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(body))
            tmp.replace(self.state_file)

    # --- the flow ---------------------------------------------------------------------

    def run(self, files: list[Local]) -> None:
        self.merge_state(files)
        with ThreadPoolExecutor(self.jobs) as pool:
            todo = [f for f in files if f.sha256 is None]
            for local, digest in zip(todo, pool.map(self._hash, todo), strict=True):
                local.sha256 = digest
        self.save(files)
        small = [f for f in files if f.size <= SINGLE_PUT_MAX]
        # chunk by chunk, declared, sent and completed: the server processes a chunk while
        # the next one is being sent
        for chunk in _chunks([f for f in small if not f.completed and not f.refused], CHUNK):
            if declare := [f for f in chunk if f.upload is None]:
                self.declare(declare)
                self.save(files)
            self.send([f for f in chunk if f.upload and not f.sent and not f.refused], files)
            if complete := [f for f in chunk if f.sent and not f.completed]:
                self.complete(complete)
                self.save(files)
        for local in files:
            if local.size > SINGLE_PUT_MAX and not local.completed:
                self.large(local)
                self.save(files)

    def _hash(self, local: Local) -> str:
        return sha256_of(self.root / local.path)

    def declare(self, chunk: list[Local]) -> None:
        given = [{"path": f.path, "byteSize": f.size, "sha256": f.sha256} for f in chunk]
        payload = self.up.graphql(START, v=self.version, files=given)["startUploads"]
        if payload["errors"]:
            raise UploadError(
                "the server refused the batch:\n" + describe_errors(payload["errors"])
            )
        for local, entry in zip(chunk, payload["entries"], strict=True):
            if entry["errors"]:
                local.refused = describe_errors(entry["errors"]).strip()
            else:
                local.upload = entry["upload"]["id"]
                local.put_url = entry["instructions"]["putUrl"]

    def send(self, todo: list[Local], files: list[Local]) -> None:
        for local in todo:  # declared by an earlier run: fresh URLs, one call at a time
            if local.put_url is None:  # (the embedded server's SQLite takes one writer)
                refreshed = self.up.graphql(REFRESH, u=local.upload, parts=None)
                local.put_url = refreshed["refreshUploadUrls"]["instructions"]["putUrl"]

        def put(local: Local) -> None:
            url = local.put_url
            assert url is not None
            with (self.root / local.path).open("rb") as body:
                response = self.up.http.put(url, content=body.read())
            if response.status_code >= 300:
                raise UploadError(f"{local.path}: the store answered HTTP {response.status_code}")
            local.sent = True

        done = 0
        with ThreadPoolExecutor(self.jobs) as pool:
            for _ in pool.map(put, todo):
                done += 1
                if done % 100 == 0:
                    self.save(files)
                    self.say(f"sent {done}/{len(todo)} files")

    def complete(self, chunk: list[Local]) -> None:
        ids = [f.upload for f in chunk]
        payload = self.up.graphql(COMPLETE, ids=ids)["completeUploads"]
        if payload["errors"]:
            raise UploadError("completeUploads refused:\n" + describe_errors(payload["errors"]))
        for local, entry in zip(chunk, payload["entries"], strict=True):
            if entry["errors"]:
                local.refused = describe_errors(entry["errors"]).strip()
            local.completed = True

    def large(self, local: Local) -> None:
        """A file over 64 MiB: the one-file flow (multipart, resumable from its own state
        file beside the folder's), declared at its path."""
        one = _AtPath(local.path, self.up.url, self.up.token, http=self.up.http, progress=False)
        one.poll_timeout = self.up.poll_timeout
        key = hashlib.sha256(local.path.encode()).hexdigest()[:16]
        result = one.upload(
            self.root / local.path,
            self.version,
            self.state_file.with_name(f"{self.state_file.name}.{key}"),
        )
        local.upload, local.sent, local.completed = result["id"], True, True

    def wait(self, timeout: float) -> dict[str, dict[str, Any]]:
        """The version's uploads by path once none is still on its way (or time is up)."""
        deadline = time.monotonic() + timeout
        while True:
            node = self.up.graphql(UPLOADS, v=self.version)["node"]
            latest: dict[str, dict[str, Any]] = {}
            for upload in node["uploads"]:
                latest[upload["path"]] = upload  # in id order: the newest last
            if all(
                u["state"] in FINAL_STATES | {"AWAITING_UPLOAD", "QUARANTINED"}
                for u in latest.values()
            ):
                return latest
            if time.monotonic() > deadline:
                return latest
            # each look lists every upload of the version: a big folder looks less often,
            # so the listing does not take the server's time from the processing
            self.up.sleep(min(2.0, 0.5 + len(latest) / 5000))

    def ready_files(self) -> dict[str, str]:
        found: dict[str, str] = {}
        after = None
        while True:
            page = self.up.graphql(FILES, v=self.version, after=after)["node"]["files"]
            found.update((n["path"], n["sha256"]) for n in page["nodes"])
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]


def manifest(
    files: list[Local], ready: dict[str, str], uploads: dict[str, dict[str, Any]]
) -> list[tuple[str, str]]:
    """Every local file that is not READY with its sha256 in the version, with the reason."""
    problems = []
    for local in files:
        held = ready.get(local.path)
        if held == local.sha256:
            continue
        upload = uploads.get(local.path)
        if held is not None:
            reason = f"the version holds another file there (sha256 {held[:12]}...)"
        elif local.refused:
            reason = f"refused: {local.refused}"
        elif upload is not None:
            reason = f"{upload['state']} ({upload.get('errorCode') or 'no code'})"
            if upload.get("errorMessage"):
                reason += f": {upload['errorMessage']}"
        else:
            reason = "not uploaded"
        problems.append((local.path, reason))
    return problems


def _chunks(items: list[Local], size: int) -> Iterable[list[Local]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upload_folder(
    root: Path,
    dataset: str,
    url: str,
    token: str | None,
    *,
    include: list[str] | None = None,
    exclude: list[str] | None = None,
    jobs: int = 8,
    state_file: Path | None = None,
    poll_timeout: float = 600.0,
    say: Callable[[str], None] = print,
    http: Any = None,
) -> tuple[Scan, list[tuple[str, str]]]:
    """Upload the folder; answer what was scanned and the manifest check's problems."""
    root = root.resolve()
    state = state_file or root.with_name(f"{root.name}.satreps-upload.json")
    uploader = Uploader(url, token, http=http, progress=False, poll_timeout=poll_timeout)
    try:
        version = uploader.resolve_version(dataset)
        found = scan(root, include or [], exclude or [], state)
        say(f"{len(found.files)} files, {sum(f.size for f in found.files)} bytes")
        job = FolderUpload(uploader, root, version, state, jobs, say)
        job.run(found.files)
        uploads = job.wait(poll_timeout)
        problems = manifest(found.files, job.ready_files(), uploads)
        if not problems:
            state.unlink(missing_ok=True)
        return found, problems
    finally:
        uploader.close()


def run_folder(
    root: Path,
    dataset: str,
    url: str,
    token: str | None,
    state_file: Path | None,
    timeout: float,
    options: dict[str, Any],
    echo: Callable[[str, bool], None],
) -> int:
    """The CLI's body for a folder: upload, print the manifest check, 0 only when it holds."""
    try:
        found, problems = upload_folder(
            root,
            dataset,
            url,
            token,
            include=options["include"],
            exclude=options["exclude"],
            jobs=options["jobs"],
            state_file=state_file,
            poll_timeout=timeout,
            say=lambda message: echo(message, True),
        )
    except UploadError as error:
        echo(f"error: {error}", True)
        return 1
    except KeyboardInterrupt:
        echo("interrupted: run the same command again to resume the folder", True)
        return 130
    for path, reason in found.skipped:
        echo(f"skipped: {path}: {reason}", True)
    for path, reason in problems:
        echo(f"error: {path}: {reason}", True)
    ready = len(found.files) - len(problems)
    echo(f"{ready} of {len(found.files)} files READY, sha256 checked", False)
    return 0 if not problems else 1
