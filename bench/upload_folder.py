"""Benchmark: a folder of files to READY through `satreps upload DIR`'s code path (issue 23).

    .venv/bin/python bench/upload_folder.py [--small 10000] [--large 1000] [--small-kib 10]
        [--large-mib 1] [--jobs 8] [--modes production,embedded] [--workers 1]

Smoke-sized: `--small 200 --large 20`.

production: a fresh PostgreSQL database (created, migrated, dropped), Redis database 7
(flushed before and after), SeaweedFS (`weed server` with its S3 gateway, free ports,
SIGKILLed), `satreps serve` and `--workers` `satreps worker` processes (arq, one by
default), all on loopback. Each folder
(N small files, then M large ones, 100 files a sub-folder, random bytes) goes through
`upload_folder` (server/http/folder_upload.py: hash, startUploads, PUTs to presigned URLs
N at a time, completeUploads, the wait until every upload is final, the sha256 manifest
check) into a dataset of its own. Baseline, same run, same files, same SeaweedFS, same
concurrency: a loop of minio SDK `put_object` calls, `--jobs` threads, files read from
disk; run before and after ours, the faster kept. Ratio = baseline time / ours (target
>= 0.5). Also measured, as a ceiling: the same loop with each file GET back and hashed after
its PUT ("read-back"), the least work of any pipeline that checks every stored byte by
reading it, as our worker does.

embedded: `satreps serve` with nothing configured but a SQLite file and an object
directory (jobs in-process); the small folder to READY: files/s (target >= 200).

Everything shares the machine with the servers, the worker and the client: the ratios,
measured in the same run, are the point.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx  # noqa: E402
from common import ROOT, fresh_database
from ingest_setup import REDIS_URL, redis_db7, say, seaweed
from proc_cpu import cpu_use

from server.http.folder_upload import upload_folder  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from tests.fixtures.seaweed import SeaweedS3  # noqa: E402

SATREPS = str(Path(sys.executable).with_name("satreps"))
TARGET_RATIO, TARGET_EMBEDDED = 0.5, 200.0
KiB, MiB = 1 << 10, 1 << 20
INSTITUTION = """mutation($input: CreateInstitutionInput!) {
  createInstitution(input: $input) { institution { id } errors { message } } }"""
PROJECT = """mutation($input: CreateProjectInput!) {
  createProject(input: $input) { project { id } errors { message } } }"""
LINK = """mutation($input: AddProjectInstitutionInput!) {
  addProjectInstitution(input: $input) { errors { message } } }"""
DATASET = """mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) { dataset { id } errors { message } } }"""


# ---- inputs ----------------------------------------------------------------------------


def make_folder(root: Path, count: int, size: int) -> int:
    """`count` files of `size` random bytes, 100 a sub-folder; their total bytes."""
    for i in range(count):
        path = root / f"d{i // 100:04d}" / f"f{i:06d}.bin"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return count * size


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# ---- the servers -----------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update({f"SATREPS_{k.upper()}": v for k, v in settings.items()})
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", NO_COLOR="1")
    return env


def s3_env(s3: SeaweedS3) -> dict[str, str]:
    return {
        "s3_endpoint": s3.endpoint,
        "s3_access_key": s3.access_key,
        "s3_secret_key": s3.secret_key,
        "s3_secure": "false",
        "s3_region": s3.region,
    }


@contextmanager
def process(args: list[str], env: dict[str, str], workdir: Path, name: str) -> Iterator[Path]:
    """A `satreps` subprocess, SIGTERMed (then SIGKILLed) on the way out; its log's path."""
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        child = subprocess.Popen(
            [SATREPS, *args], env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield log
    except BaseException:
        say(f"satreps {name}'s log, its end:\n{log.read_text(errors='replace')[-4000:]}")
        raise
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        say(f"cleanup: stopped satreps {name} (pid {child.pid})")


def wait_healthy(base: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"satreps serve not healthy after 60 s:\n{log.read_text()[-3000:]}")


@dataclass
class Api:
    url: str  # the GraphQL endpoint
    token: str
    project: str = ""
    institution: str = ""

    def call(self, query: str, **variables: object) -> dict:
        response = httpx.post(
            self.url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )
        body = response.json()
        if response.status_code != 200 or "errors" in body:
            raise RuntimeError(f"GraphQL failed: {body}")
        return body["data"]

    def dataset(self) -> str:
        if not self.project:
            self.institution = self.call(
                INSTITUTION,
                input={"nameEn": "Bench Institute", "country": "JP", "kind": "UNIVERSITY"},
            )["createInstitution"]["institution"]["id"]
            self.project = self.call(PROJECT, input={"title": "Folder bench", "acronym": "FB"})[
                "createProject"
            ]["project"]["id"]
            self.call(
                LINK,
                input={
                    "projectId": self.project,
                    "institutionId": self.institution,
                    "role": "JAPANESE_LEAD",
                },
            )
        given = {
            "projectId": self.project,
            "ownerInstitutionId": self.institution,
            "title": f"Folder {uuid.uuid4().hex[:6]}",
            "licence": "CC-BY-4.0",
        }
        return str(self.call(DATASET, input=given)["createDataset"]["dataset"]["id"])


@contextmanager
def served(env: dict[str, str], workdir: Path) -> Iterator[Api]:
    port = free_port()
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    with process(serve, env, workdir, "serve") as log:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, log)
        args = [SATREPS, "token", "create", "--role", "admin", "--user", "bench-admin"]
        made = subprocess.run(args, env=env, cwd=workdir, capture_output=True, text=True)
        if made.returncode != 0:
            raise RuntimeError(f"token create failed: {made.stderr}")
        yield Api(f"{base}/graphql", made.stdout.strip())


# ---- the measurements ------------------------------------------------------------------


@dataclass
class Run:
    files: int
    bytes: int
    seconds: float

    def rate(self) -> str:
        return (
            f"{self.files / self.seconds:8.1f} files/s {self.bytes / 1e6 / self.seconds:7.1f} MB/s"
        )


PHASES = ("declare", "complete", "wait", "ready_files", "put")


@contextmanager
def phases() -> Iterator[dict[str, float]]:
    """Seconds spent in each step of FolderUpload, measured by wrapping its methods: the
    startUploads and completeUploads calls (made on one thread while the senders PUT, so
    they overlap the bytes), the wait for READY after the last completion, the manifest's
    listing, and the PUTs summed over the senders (divided by --jobs: how long they were
    busy; the rest of the run they waited for URLs)."""
    from server.http.folder_transfer import FolderUpload

    spent = dict.fromkeys(PHASES, 0.0)
    originals = {name: getattr(FolderUpload, name) for name in PHASES}
    adding = threading.Lock()  # the senders' PUTs end on several threads

    def timed(name: str, method: Callable[..., object]) -> Callable[..., object]:
        def run(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with adding:
                    spent[name] += time.perf_counter() - started

        return run

    for name, method in originals.items():
        setattr(FolderUpload, name, timed(name, method))
    try:
        yield spent
    finally:
        for name, method in originals.items():
            setattr(FolderUpload, name, method)


def ours(api: Api, folder: Path, jobs: int, quiet: Callable[[str], None]) -> Run:
    dataset = api.dataset()
    files = files_of(folder)
    state = folder.parent / f"{folder.name}.state.json"
    started = time.perf_counter()
    with phases() as spent:
        found, problems = upload_folder(
            folder,
            dataset,
            api.url,
            api.token,
            jobs=jobs,
            state_file=state,
            poll_timeout=3600,
            say=quiet,
        )
    seconds = time.perf_counter() - started
    say("    steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in spent.items()))
    if problems or len(found.files) != len(files):
        raise RuntimeError(f"{len(problems)} files not READY: {problems[:5]}")
    return Run(len(files), sum(p.stat().st_size for p in files), seconds)


def minio_client(s3: SeaweedS3, jobs: int) -> Any:
    import urllib3
    from minio import Minio

    return Minio(
        s3.endpoint,
        access_key=s3.access_key,
        secret_key=s3.secret_key,
        secure=False,
        region=s3.region,
        http_client=urllib3.PoolManager(maxsize=jobs),
    )


def raw_puts(s3: SeaweedS3, folder: Path, jobs: int, *, read_back: bool = False) -> Run:
    """minio SDK put_object of every file, `jobs` threads, into a bucket of its own; with
    `read_back`, each file GET back and hashed after its PUT: the least that any pipeline
    does which checks every stored byte by reading it (ours does, in the worker)."""
    client = minio_client(s3, jobs)
    bucket = f"bench-raw-{uuid.uuid4().hex[:8]}"
    client.make_bucket(bucket)
    files = files_of(folder)

    def put(path: Path) -> None:
        data = path.read_bytes()
        key = path.relative_to(folder).as_posix()
        client.put_object(bucket, key, io.BytesIO(data), len(data))
        if read_back:
            response = client.get_object(bucket, key)
            try:
                digest = hashlib.sha256()
                for chunk in response.stream(4 * 1024 * 1024):
                    digest.update(chunk)
            finally:
                response.close()
                response.release_conn()
            if digest.hexdigest() != hashlib.sha256(data).hexdigest():
                raise RuntimeError(f"{key}: read back other bytes")

    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(put, files))
    seconds = time.perf_counter() - started
    return Run(len(files), sum(p.stat().st_size for p in files), seconds)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def production(tmp: Path, folders: dict[str, Path], jobs: int, worker_count: int) -> None:
    say(
        f"production: PostgreSQL, Redis, SeaweedFS, satreps serve + {worker_count} satreps"
        " worker process(es)"
    )
    with redis_db7(), fresh_database("upload_folder", say) as url, seaweed(tmp / "seaweed") as s3:
        upgrade(url)
        env = base_env(
            database_url=url,
            redis_url=REDIS_URL,
            object_dir=str(tmp / "objects"),
            **s3_env(s3),
        )
        work = tmp / "production"
        work.mkdir()
        with contextlib.ExitStack() as workers:
            for n in range(worker_count):
                workers.enter_context(process(["worker"], env, work, f"worker-{n}"))
            api = workers.enter_context(served(env, work))
            for name, folder in folders.items():
                with cpu_use() as raw_cpu:
                    before = raw_puts(s3, folder, jobs)
                with cpu_use() as our_cpu:
                    mine = ours(api, folder, jobs, lambda _: None)
                after = raw_puts(s3, folder, jobs)
                read_back = raw_puts(s3, folder, jobs, read_back=True)
                say(f"    raw  {raw_cpu.line()}")
                say(f"    ours {our_cpu.line()}")
                base = min(before, after, key=lambda r: r.seconds)
                ratio = base.seconds / mine.seconds
                say(f"  {name:6} ours {mine.rate()}  ({mine.seconds:.1f} s, to READY, checked)")
                say(f"  {name:6} raw  {base.rate()}  (minio put_object, {jobs} threads)")
                say(
                    f"  {name:6} read-back {read_back.rate()}  (each PUT, then GET and sha256:"
                    f" {base.seconds / read_back.seconds:.2f}x of the raw PUT loop, the most"
                    " for a pipeline that reads every stored byte back)"
                )
                say(
                    f"  {name:6} ratio {ratio:.2f}x of the raw PUT loop"
                    f"  (target >= {TARGET_RATIO})  {verdict(ratio >= TARGET_RATIO)}"
                )


def embedded(tmp: Path, folder: Path, jobs: int) -> None:
    say("embedded: satreps serve alone (SQLite, local objects, jobs in-process)")
    work = tmp / "embedded"
    work.mkdir()
    env = base_env(
        database_url=f"sqlite+aiosqlite:///{work / 'satreps.db'}",
        object_dir=str(work / "objects"),
    )
    with served(env, work) as api, cpu_use() as used:
        mine = ours(api, folder, jobs, lambda _: None)
    say(f"    ours {used.line()}")
    rate = mine.files / mine.seconds
    say(f"  small  ours {mine.rate()}  ({mine.seconds:.1f} s, to READY, checked)")
    say(
        f"  small  {rate:.0f} files/s to READY (target >= {TARGET_EMBEDDED:.0f})"
        f"  {verdict(rate >= TARGET_EMBEDDED)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000, help="small files")
    parser.add_argument("--large", type=int, default=1_000, help="large files")
    parser.add_argument("--small-kib", type=int, default=10)
    parser.add_argument("--large-mib", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=8, help="files in flight, both loops")
    parser.add_argument("--modes", default="production,embedded")
    parser.add_argument("--workers", type=int, default=1, help="satreps worker processes")
    args = parser.parse_args()
    modes = {m.strip() for m in args.modes.split(",") if m.strip()}
    wall = time.perf_counter()
    say(
        f"upload_folder benchmark: {args.small} x {args.small_kib} KiB and {args.large} x"
        f" {args.large_mib} MiB, {args.jobs} in flight, {os.cpu_count()} CPUs"
    )
    tmp = Path(tempfile.mkdtemp(prefix="satreps-bench-folder-"))
    try:
        folders = {"small": tmp / "small", "large": tmp / "large"}
        make_folder(folders["small"], args.small, args.small_kib * KiB)
        if args.large:
            make_folder(folders["large"], args.large, args.large_mib * MiB)
        else:
            del folders["large"]
        if "production" in modes:
            production(tmp, folders, args.jobs, args.workers)
        if "embedded" in modes:
            embedded(tmp, folders["small"], args.jobs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        say(f"cleanup: removed {tmp}")
    say(f"total wall time {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
