"""`satreps upload DIR --dataset ID`: a folder, recursively, into a dataset's draft.

Through the public GraphQL API only, reusing the one-file uploader's client
(`upload_client.Uploader`: retries, the token, the target version):

1. the folder is walked (symlinked folders are listed and not followed, so a symlink loop
   cannot trap the walk; symlinked files are read where they point), `--include` and
   `--exclude` globs apply to the path relative to DIR (and to the bare name);
2. the files' sha256 are computed, N at a time;
3. files up to 64 MiB go in chunks of FILES_PER_CHUNK: declared by one `startUploads`,
   their bytes sent to the URLs N files in flight, queued by one `completeUploads` (the server
   processes a chunk while the next is sent); a larger file goes through the one-file flow
   (multipart, resumable) on its own;
4. the uploads are awaited, then the manifest check: every local file's sha256 must match
   the READY file of the same path in the version; anything else is listed with its code
   (`FileCode`, or the server's own) and its reason. One file refused (by the server, or
   its bytes by the store) does not stop the others.

Progress (stderr, when it is a terminal): a sha256 row, one overall row (bytes sent of the
folder's total, rate, time left; files READY or failed of the total) and a row per file in
flight beneath it (server/http/progress.py, shared with the one-file uploader).

Resume: the state file (`<DIR>.satreps-upload.json` beside the folder, or the path given)
records per relative path its size, mtime, sha256, upload id and how far it went. Run the
same command again: unchanged files are not hashed again, declared ones are not declared
again (their URLs are renewed), sent ones are not sent again. It is removed when every
file checks out.

Here: the command (`upload_folder`, `run_folder`) and the manifest check (4); the walk (1)
is in folder_walk.py, the transfer (2, 3) and the state file in folder_transfer.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.http.folder_transfer import SETTLED, FolderBar, FolderUpload
from server.http.folder_walk import FileCode, Local, Problem, Scan, scan
from server.http.folder_warnings import ready_warnings
from server.http.progress import Bars
from server.http.upload_client import Uploader, UploadError

if TYPE_CHECKING:
    from rich.console import Console


def manifest(
    files: list[Local], ready: dict[str, str], uploads: dict[str, dict[str, Any]]
) -> list[Problem]:
    """Every local file that is not READY with its sha256 in the version, with its code and
    reason."""
    return [
        problem
        for local in files
        if (problem := _check(local, ready.get(local.path), uploads.get(local.path)))
    ]


def _check(local: Local, held: str | None, upload: dict[str, Any] | None) -> Problem | None:
    if held == local.sha256:
        return None
    if held is not None:
        reason = f"the version holds another file there (sha256 {held[:12]}...)"
        return Problem(local.path, FileCode.CHECKSUM_MISMATCH, reason)
    if local.refused:
        return Problem(local.path, local.code or FileCode.REJECTED, local.refused)
    if upload is None or upload["state"] == "READY":
        reason = "the version has no READY file at this path"
        return Problem(local.path, FileCode.MISSING_REMOTE, reason)
    state = upload["state"]
    if state not in SETTLED:
        return Problem(local.path, FileCode.NOT_FINISHED, f"still {state} when the wait ended")
    reason = f"{state}: {upload.get('errorMessage') or 'no message'}"
    return Problem(local.path, upload.get("errorCode") or FileCode(state), reason)


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
    progress: bool = False,
    console: Console | None = None,
) -> tuple[Scan, list[Problem]]:
    """Upload the folder; answer what was scanned and every file that is not READY with its
    sha256 (unreadable ones first), with its code. `progress`: the bars on `console` (stderr)
    when it is a terminal."""
    root = root.resolve()
    state = state_file or root.with_name(f"{root.name}.satreps-upload.json")
    uploader = Uploader(url, token, http=http, progress=False, poll_timeout=poll_timeout)
    bars = Bars(progress, console, counted=True)
    told = bars.log if bars.shown else say
    try:
        version = uploader.resolve_version(dataset)
        found = scan(root, include or [], exclude or [], state)
        told(f"{len(found.files)} files, {sum(f.size for f in found.files)} bytes")
        with bars:
            bar = FolderBar(bars)
            job = FolderUpload(uploader, root, version, state, jobs, told, bar)
            job.run(found.files)
            uploads = job.wait(found.files, poll_timeout)
            problems = manifest(found.files, job.ready_files(), uploads)
            bad = {problem.path for problem in problems}
            checked = {f.path for f in found.files} & uploads.keys() - bad
            found.warnings = ready_warnings(uploads[p] for p in sorted(checked))
            failed = len(problems)
            bar.settled(len(found.files), failed, "done")
        if not problems:
            state.unlink(missing_ok=True)
        return found, found.failed + problems
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
    """The CLI's body for a folder: upload, print the manifest check (each file not READY
    with its code and reason; `--json`: one document on stdout), 0 only when it holds."""
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
            progress=options.get("progress", False),
        )
    except UploadError as error:
        echo(f"error: {error}", True)
        return 1
    except KeyboardInterrupt:
        echo("interrupted: run the same command again to resume the folder", True)
        return 130
    total = len(found.files) + len(found.failed)
    ready = total - len(problems)
    if options.get("json"):
        report = {
            "files": total,
            "ready": ready,
            "failed": [p.as_dict() for p in problems],
            "skipped": [p.as_dict() for p in found.skipped],
            "warnings": [w.as_dict() for w in found.warnings],
        }
        echo(json.dumps(report, indent=2), False)
        return 0 if not problems else 1
    for warning in found.warnings:
        echo(f"warning: {warning.line()}", True)
    for skipped in found.skipped:
        echo(f"skipped: {skipped.line()}", True)
    for problem in problems:
        echo(f"error: {problem.line()}", True)
    tail = f"; {len(problems)} failed" if problems else ""
    if warned := len({w.path for w in found.warnings}):
        tail += f"; {warned} with warnings"
    echo(f"{ready} of {total} files READY, sha256 checked{tail}", False)
    return 0 if not problems else 1
