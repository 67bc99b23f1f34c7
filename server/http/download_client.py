"""`satreps download VERSION DIR`: every file of a version (or of a prefix of its paths)
into a directory, N at a time, each verified against its sha256.

The file list and URLs come from `versionDownload` (only the files the token may read;
the rest are reported as left out, with why). A file is written to `<path>.satreps-part`
and renamed once its size and sha256 match; an interrupted run leaves the part file, and
the next run asks for the rest of it with a Range (the whole file again when the server
answers 200, or when the part is longer than the file). A file already in place with the
right sha256 is not fetched again. URLs expire: a refused URL (403) is renewed once.

Exit status: 0 every file is in place and verified, 2 some files failed (listed), 3 all
readable files are in place but the server left some out (listed), 1 nothing could start
(refused, no connection)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import httpx

PART = ".satreps-part"
CHUNK = 1024 * 1024
TRIES = 4
BACKOFF = 0.5
MUTATION = """mutation($i: VersionDownloadInput!) { versionDownload(input: $i) {
  download { fileCount byteSize files { path size sha256 url } leftOut { path code message } }
  errors { code message field } } }"""


class DownloadError(Exception):
    """Nothing could be fetched: the server refused the request, or cannot be reached."""


class FileFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Outcome:
    path: str
    status: str  # downloaded, resumed, present, failed, left out
    code: str | None = None
    message: str | None = None
    bytes: int = 0


@dataclass
class Report:
    files: list[Outcome] = field(default_factory=list)
    left_out: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.files if o.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 2 if self.failed else 3 if self.left_out else 0


def local_path(root: Path, path: str) -> Path:
    """Where a file goes under `root`: refused when its path would leave it."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or any(p in ("..", ".", "") for p in parts):
        raise FileFailed("UNSAFE_PATH", f"{path!r} would be written outside {root}")
    return root.joinpath(*parts)


def sha256_file(path: Path, limit: int | None = None) -> hashlib._Hash:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        remaining = limit
        while chunk := handle.read(CHUNK if remaining is None else min(CHUNK, remaining)):
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return digest


def _kept(part: Path, size: int) -> int:
    """The bytes of a part file to build on (one longer than the file is removed)."""
    try:
        have = part.stat().st_size
    except FileNotFoundError:
        return 0
    if have > size:
        part.unlink()
        return 0
    return have


class Downloader:
    def __init__(
        self,
        url: str,
        token: str | None,
        version_id: str,
        root: Path,
        *,
        prefix: str | None = None,
        jobs: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.url, self.token, self.version_id, self.root = url, token, version_id, root
        self.prefix, self.jobs = prefix, max(1, jobs)
        self.http = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(120.0, connect=10.0)
        )
        self.on_bytes = on_bytes or (lambda _: None)
        self.urls: dict[str, str] = {}
        self._renewing: asyncio.Lock | None = None

    async def listing(self) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        variables = {"i": {"versionId": self.version_id, "prefix": self.prefix}}
        try:
            response = await self.http.post(
                self.url, json={"query": MUTATION, "variables": variables}, headers=headers
            )
            body = response.json()
        except httpx.TransportError as error:
            raise DownloadError(f"cannot reach {self.url}: {error!r}") from None
        except ValueError:
            raise DownloadError(f"{self.url} answered HTTP {response.status_code}") from None
        if body.get("errors") or not isinstance(body.get("data"), dict):
            messages = "; ".join(e.get("message", "") for e in body.get("errors") or [])
            raise DownloadError(f"the server refused the request: {messages}")
        payload = body["data"]["versionDownload"]
        if payload["errors"]:
            listed = "; ".join(f"{e['code']}: {e['message']}" for e in payload["errors"])
            raise DownloadError(listed)
        download: dict[str, Any] = payload["download"]
        self.urls = {f["path"]: f["url"] for f in download["files"]}
        return download

    async def run(self) -> Report:
        try:
            download = await self.listing()
            self._renewing = asyncio.Lock()
            report = Report(
                left_out=[
                    Outcome(x["path"], "left out", x["code"], x["message"])
                    for x in download["leftOut"]
                ]
            )
            slots = asyncio.Semaphore(self.jobs)

            async def one(file: dict[str, Any]) -> Outcome:
                async with slots:
                    return await self.fetch(file)

            report.files = list(await asyncio.gather(*(one(f) for f in download["files"])))
            return report
        finally:
            await self.http.aclose()

    async def fetch(self, file: dict[str, Any]) -> Outcome:
        path = file["path"]
        try:
            target = local_path(self.root, path)
            if target.is_file() and target.stat().st_size == file["size"]:
                digest = await asyncio.to_thread(sha256_file, target)
                if digest.hexdigest() == file["sha256"]:
                    return Outcome(path, "present")
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + PART)
            status, fetched = await self._fetch_into(part, file)
            await asyncio.to_thread(os.replace, part, target)
            return Outcome(path, status, bytes=fetched)
        except FileFailed as error:
            return Outcome(path, "failed", error.code, str(error))
        except OSError as error:
            return Outcome(path, "failed", "LOCAL_ERROR", str(error))

    async def _fetch_into(self, part: Path, file: dict[str, Any]) -> tuple[str, int]:
        size, expected = int(file["size"]), file["sha256"]
        resumed, fetched, renewed = False, 0, False
        for attempt in range(1, TRIES + 1):
            have = await asyncio.to_thread(_kept, part, size)
            resumed = resumed or have > 0
            digest = await asyncio.to_thread(sha256_file, part) if have else hashlib.sha256()
            try:
                if have < size:
                    digest, got = await self._get(part, file["path"], have, digest)
                    fetched += got
            except FileFailed as error:
                if error.code == "URL_REFUSED" and not renewed:
                    renewed = True
                    await self._renew()
                    continue
                if error.code == "RANGE_NOT_SATISFIABLE" and attempt < TRIES:
                    await asyncio.to_thread(part.unlink, True)  # not a prefix: start again
                    continue
                raise
            except httpx.TransportError as error:
                if attempt == TRIES:
                    raise FileFailed("TRANSPORT_ERROR", repr(error)) from None
                await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))
                continue
            if await asyncio.to_thread(_kept, part, size) != size or (
                digest.hexdigest() != expected
            ):
                await asyncio.to_thread(part.unlink, True)
                raise FileFailed(
                    "SHA256_MISMATCH",
                    f"got {digest.hexdigest()}, expected {expected}: the partial file was removed",
                )
            return ("resumed" if resumed else "downloaded"), fetched
        raise FileFailed("TRANSPORT_ERROR", f"gave up after {TRIES} tries")

    async def _get(
        self, part: Path, path: str, have: int, digest: hashlib._Hash
    ) -> tuple[hashlib._Hash, int]:
        """Append the rest of the file to `part`; the digest of the part as it now is and
        the bytes fetched."""
        headers = {"Range": f"bytes={have}-"} if have else {}
        fetched = 0
        async with self.http.stream("GET", self.urls[path], headers=headers) as response:
            status = response.status_code
            if status in (403, 416) or (status not in (200, 206) and status < 500):
                body = (await response.aread())[:300].decode(errors="replace")
                code = {403: "URL_REFUSED", 416: "RANGE_NOT_SATISFIABLE"}.get(status)
                raise FileFailed(code or f"HTTP_{status}", f"HTTP {status}: {body}")
            if status >= 500:
                raise httpx.TransportError(f"HTTP {status}")  # retried
            if status == 200 and have:  # the whole file again: start over
                digest, have = hashlib.sha256(), 0
            with part.open("r+b" if have else "wb") as handle:
                handle.seek(have)
                handle.truncate()
                async for chunk in response.aiter_bytes(CHUNK):
                    digest.update(chunk)
                    handle.write(chunk)
                    fetched += len(chunk)
                    self.on_bytes(len(chunk))
        return digest, fetched

    async def _renew(self) -> None:
        assert self._renewing is not None
        async with self._renewing:
            await self.listing()


def run(
    version_id: str,
    directory: Path,
    url: str,
    token: str | None,
    *,
    prefix: str | None = None,
    jobs: int = 4,
    echo: Callable[[str, bool], None] | None = None,
) -> int:
    """The CLI's body: download, print what failed or was left out, the exit status."""

    def say(message: str, err: bool = False) -> None:
        if echo is not None:
            echo(message, err)
        else:
            print(message, file=sys.stderr if err else sys.stdout)

    downloader = Downloader(url, token, version_id, directory, prefix=prefix, jobs=jobs)
    try:
        report = asyncio.run(downloader.run())
    except DownloadError as error:
        say(f"error: {error}", True)
        return 1
    except KeyboardInterrupt:
        say("interrupted: run the same command again to fetch the rest", True)
        return 130
    return summarise(report, say)


def summarise(report: Report, say: Callable[[str, bool], None]) -> int:
    counts: dict[str, int] = {}
    for outcome in report.files:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    fetched = sum(o.bytes for o in report.files)
    done = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no files"
    say(f"{done}; {fetched} bytes fetched", False)
    for outcome in report.failed:
        say(f"failed: {outcome.path}: {outcome.code}: {outcome.message}", True)
    for outcome in report.left_out:
        say(f"left out: {outcome.path}: {outcome.code}: {outcome.message}", True)
    return report.exit_code
