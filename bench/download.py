"""A whole version downloaded as one streamed ZIP (`versionDownload`'s archive URL, served
by a real `satreps serve`) against GETting the same objects from the store in the same run:
MB/s, the ratio (target >= 0.7x) and the server's RSS before, at its peak during and after
the download (flat: the archive is never held in memory).

    .venv/bin/python bench/download.py                       # 1 GiB in 1,000 files, s3
    .venv/bin/python bench/download.py --mib 256 --files 250 --modes local,s3

local: SQLite and the local store. s3: SeaweedFS (started here) and PostgreSQL (a fresh
database). The baseline reads every object once, one after another, through the store's
own client (the minio SDK for S3, files for the local store): the bytes the server has to
read to write the archive. The files are rows of one version (made here straight in the
database: this measures downloads, not ingest) over random objects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
from common import ROOT, fresh_database

from server.access.auth import ensure_account, issue_token
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.migrations import upgrade
from server.models import Dataset, DatasetFile, DatasetVersion, Institution, Project
from server.models.enums import AccessLevel, AccountRole, InstitutionKind, VersionState
from server.storage import ObjectStore, store_from_settings

MiB = 1024 * 1024
MUTATION = """mutation($i: VersionDownloadInput!) { versionDownload(input: $i) {
  download { archiveUrl fileCount byteSize } errors { code message } } }"""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def seed(settings: Settings, total: int, files: int) -> tuple[int, str, list[str]]:
    """A public version of `files` random objects, `total` bytes in all: (version id, an
    admin token, the objects' keys)."""
    store = store_from_settings(settings)
    await store.ensure_buckets()
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    size = max(1, total // files)
    block = os.urandom(size + files)
    try:
        async with sessions() as session:
            institution = Institution(
                name_en="Bench Institute", country_code="JP", kind=InstitutionKind.UNIVERSITY
            )
            project = Project(title="Download bench")
            session.add_all([institution, project])
            await session.flush()
            dataset = Dataset(
                project_id=project.id,
                owner_institution_id=institution.id,
                title="Download benchmark",
                licence="CC-BY-4.0",
                access_level=AccessLevel.PUBLIC,
            )
            session.add(dataset)
            await session.flush()
            version = DatasetVersion(dataset_id=dataset.id, number=1, state=VersionState.DRAFT)
            session.add(version)
            await session.flush()
            keys = []
            for n in range(files):
                body = block[n : n + size]  # each object its own bytes
                key = f"bench/{uuid.uuid4().hex}/{n:05d}.bin"
                await store.put(store.buckets.raw, key, body, size=size)
                session.add(
                    DatasetFile(
                        version_id=version.id,
                        name=f"station-{n:05d}.bin",
                        size=size,
                        sha256=hashlib.sha256(body).hexdigest(),
                        media_type="application/octet-stream",
                        raw_key=key,
                    )
                )
                keys.append(key)
            account = await ensure_account(session, "bench-admin", AccountRole.ADMIN)
            _, token = await issue_token(session, account, ttl=dt.timedelta(hours=2))
            await session.commit()
            return version.id, token, keys
    finally:
        store.close()
        await engine.dispose()


async def baseline(store: ObjectStore, keys: list[str]) -> tuple[int, float]:
    """Every object read once, in order: (bytes, seconds)."""
    start, total = time.perf_counter(), 0
    for key in keys:
        async with await store.open_read(store.buckets.raw, key) as reader:
            async for chunk in reader:
                total += len(chunk)
    return total, time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.05)


def env_of(settings: Settings, base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update(
        SATREPS_DATABASE_URL=settings.database_url,
        SATREPS_OBJECT_DIR=str(settings.object_dir),
        SATREPS_AUTO_MIGRATE="false",
        SATREPS_FIXITY_EVERY_DAYS="0",
        SATREPS_BUCKET_RAW=settings.bucket_raw,
        SATREPS_BUCKET_ARTIFACTS=settings.bucket_artifacts,
        SATREPS_BUCKET_PROVENANCE=settings.bucket_provenance,
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    if settings.s3_endpoint:
        assert settings.s3_secret_key is not None
        env.update(
            SATREPS_S3_ENDPOINT=settings.s3_endpoint,
            SATREPS_S3_ACCESS_KEY=settings.s3_access_key or "",
            SATREPS_S3_SECRET_KEY=settings.s3_secret_key.get_secret_value(),
            SATREPS_S3_SECURE="false",
            SATREPS_S3_REGION=settings.s3_region or "us-east-1",
        )
    return env


@contextlib.contextmanager
def serving(settings: Settings, base: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    log = (base / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env_of(settings, base),
        cwd=base,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                break
            time.sleep(0.1)
        else:
            process.poll()
        if process.returncode is not None:
            tail = (base / "serve.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"satreps serve exited {process.returncode}:\n{tail}")
        yield url, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        say(f"cleanup: stopped satreps serve (pid {process.pid})")


def rate(size: int, seconds: float) -> float:
    return size / MiB / seconds


async def measure(mode: str, settings: Settings, base: Path, total: int, files: int) -> None:
    upgrade(settings.database_url)
    say(f"{mode}: seeding {files} files, {total / MiB:.0f} MiB")
    version_id, token, keys = await seed(settings, total, files)
    store = store_from_settings(settings)
    try:
        await baseline(store, keys[: min(20, len(keys))])  # warm the connection pool
        got, base_s = await baseline(store, keys)
    finally:
        store.close()
    with serving(settings, base) as (url, process):
        from strawberry.relay import to_base64

        headers = {"Authorization": f"Bearer {token}"}
        variables = {"i": {"versionId": to_base64("DatasetVersion", version_id)}}
        async with httpx.AsyncClient(timeout=600) as http:
            asked = time.perf_counter()
            answer = await http.post(
                f"{url}/graphql", json={"query": MUTATION, "variables": variables}, headers=headers
            )
            if answer.status_code != 200:
                say((base / "serve.log").read_text(errors="replace")[-4000:])
            assert answer.status_code == 200, answer.text[:2000]
            payload = answer.json()["data"]["versionDownload"]
            say(f"versionDownload answered in {time.perf_counter() - asked:.2f} s")
            assert not payload["errors"], payload
            archive = payload["download"]["archiveUrl"]
            before = rss_mib(process.pid)
            sampler = RssSampler(process.pid)
            sampler.start()
            start, received = time.perf_counter(), 0
            try:
                async with http.stream("GET", archive) as response:
                    assert response.status_code == 200, response.status_code
                    length = int(response.headers["content-length"])
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
            except httpx.HTTPError:
                say((base / "serve.log").read_text(errors="replace")[-4000:])
                raise
            zip_s = time.perf_counter() - start
            sampler.running = False
            sampler.join()
            after = rss_mib(process.pid)
    assert received == length, (received, length)
    base_rate, zip_rate = rate(got, base_s), rate(received, zip_s)
    ratio = zip_rate / base_rate
    floor_rate = rate(length, await http_alone(length))
    print(f"## download, {mode}: {files} files, {got / MiB:.0f} MiB")
    print(f"GET every object from the store (baseline): {base_rate:8.1f} MB/s ({base_s:.2f} s)")
    print(f"the version as one streamed ZIP:             {zip_rate:8.1f} MB/s ({zip_s:.2f} s)")
    verdict = "ok" if ratio >= 0.7 else "BELOW TARGET"
    print(f"ratio: {ratio:.2f}x (target >= 0.7x: {verdict})")
    print(
        f"HTTP alone (the archive's size, a constant body): {floor_rate:8.1f} MB/s;"
        f" the ZIP at {zip_rate / floor_rate:.2f}x of it"
    )
    print(
        f"server RSS: {before:.0f} MiB before, {sampler.peak:.0f} MiB peak, {after:.0f} MiB after"
        f" (the archive: {length / MiB:.0f} MiB)"
    )


# a Starlette app streaming SIZE constant bytes in 4 MiB chunks, served by uvicorn as
# `satreps serve` is: what this stack moves over loopback with no file, hash or ZIP
_HTTP_ALONE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route
SIZE, CHUNK = int(sys.argv[2]), b"x" * (4 << 20)
async def body():
    for start in range(0, SIZE, len(CHUNK)):
        yield CHUNK[: SIZE - start]
async def endpoint(request):
    return StreamingResponse(body(), headers={"content-length": str(SIZE)})
app = Starlette(routes=[Route("/body", endpoint)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


async def http_alone(size: int) -> float:
    """Seconds to GET `size` bytes of a constant body through the same client, the best of
    three (the floor under any download this server answers)."""
    port = free_port()
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _HTTP_ALONE, str(port), str(size)
    )
    try:
        url, best = f"http://127.0.0.1:{port}/body", float("inf")
        async with httpx.AsyncClient(timeout=600) as http:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await http.head(url)
                    break
                await asyncio.sleep(0.1)
            for _ in range(3):
                start, received = time.perf_counter(), 0
                async with http.stream("GET", url) as response:
                    async for chunk in response.aiter_raw():
                        received += len(chunk)
                assert received == size, (received, size)
                best = min(best, time.perf_counter() - start)
        return best
    finally:
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), 20)


def run_local(total: int, files: int, base: Path) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{base / 'bench.db'}", object_dir=base / "objects"
    )
    asyncio.run(measure("local", settings, base, total, files))


def run_s3(total: int, files: int, base: Path) -> None:
    from ingest_setup import seaweed

    with seaweed(base / "seaweed") as s3, fresh_database("download", say) as url:
        tag = uuid.uuid4().hex[:8]
        settings = s3.settings(
            base / "objects",
            database_url=url,
            bucket_raw=f"raw-{tag}",
            bucket_artifacts=f"artifacts-{tag}",
            bucket_provenance=f"provenance-{tag}",
        )
        asyncio.run(measure("s3", settings, base, total, files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=1024, help="the version's size in MiB")
    parser.add_argument("--files", type=int, default=1000, help="its files")
    parser.add_argument("--modes", default="s3", help="local,s3")
    parser.add_argument("--dir", type=Path, default=None, help="where the stores go (disk)")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        base = Path(tempfile.mkdtemp(prefix=f"satreps-bench-download-{mode}-", dir=args.dir))
        try:
            {"local": run_local, "s3": run_s3}[mode](args.mib * MiB, args.files, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            say(f"cleanup: removed {base}")


if __name__ == "__main__":
    main()
