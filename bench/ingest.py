"""Benchmark: uploads through the whole ingest pipeline against raw S3 and pyarrow baselines.

    .venv/bin/python bench/ingest.py [--sizes 256,1024] [--small-jobs 200] [--latency-jobs 50]

The parent process sets everything up on loopback and tears it down at the end, whatever
happens: SeaweedFS (`weed server` with its S3 gateway, free ports, SIGKILLed), a uniquely
named PostgreSQL database (created, migrated, dropped), Redis database 7 (flushed before and
after), a temporary directory.

Part 1, throughput and memory, per size (MiB): an opaque file (random bytes) and a CSV
(numeric, text, date and timestamp columns) are written to disk, PUT into the raw bucket with
the store's streaming `put`, given Dataset/Version/Upload rows through the ORM (QUEUED, the
raw key), then `workers.pipeline.process_upload` runs in a CHILD process with the ctx a
worker builds. Its time is the call alone (no interpreter start); MB/s = bytes / time; its
peak RSS is the child's own high-water mark (VmHWM; not ru_maxrss, which Linux carries over
from the parent across exec). Baselines, each in its own child, on the same bytes:

  (a) GET of the same object with the minio SDK (4 MiB reads) + hashlib.sha256, run before
      and after the pipeline, the faster kept (target: opaque pipeline >= 0.6x of (a));
  (b) pyarrow.csv.read_csv + pyarrow.parquet.write_table of the CSV from local disk
      (target: CSV pipeline >= 0.5x of (b)).

Target for the worker: peak RSS <= 256 MiB, flat in file size.

Part 2, jobs: a real `satreps worker` subprocess (the production settings of
workers/main.py); uploads of a few hundred bytes are enqueued through `server.core.jobs.ArqJobs`.
Start latency is started_at (stamped by the worker when it claims) minus the time just before
enqueue, one job at a time (target p50 <= 20 ms); small-file jobs/s is N jobs enqueued at
once until all READY.

Everything shares one 2-core machine with the servers: absolute numbers vary from run to
run; the ratios, measured in the same run, are the point.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import fresh_database  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from server.core.config import Settings  # noqa: E402
from server.core.db import make_engine, session_factory, utcnow  # noqa: E402
from server.core.jobs import PROCESS_UPLOAD, ArqJobs  # noqa: E402
from server.datasets.upload_states import FINAL, move  # noqa: E402
from server.datasets.uploads import raw_key  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from server.models import Dataset, DatasetVersion, Institution, Project, Upload  # noqa: E402
from server.models.enums import (  # noqa: E402
    AccessLevel,
    InstitutionKind,
    UploadState,
    VersionState,
)
from server.storage import ObjectStore, store_from_settings  # noqa: E402
from tests.fixtures.seaweed import SeaweedS3, start_seaweed, stop_seaweed  # noqa: E402
from workers.main import QUEUE  # noqa: E402
from workers.pipeline import job_id  # noqa: E402

MiB = 1 << 20
REDIS_URL = os.environ.get("SATREPS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
HEALTH_KEY = QUEUE + ":health-check"  # arq writes it on the worker's first poll
SATREPS = str(Path(sys.executable).with_name("satreps"))
CHILD_TIMEOUT = 1800.0
TARGET_OPAQUE, TARGET_CSV, TARGET_RSS, TARGET_LATENCY_MS = 0.6, 0.5, 256.0, 20.0


def parent_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def say(*parts: object) -> None:
    print(*parts, flush=True)


# ---- child processes -------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import asyncio, hashlib, json, resource, sys, time

    mode, arg = sys.argv[1], json.loads(sys.argv[2])

    def rss_mib(field="VmRSS:"):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) / 1024

    def peak_mib():
        # VmHWM: this process's own high-water mark. Not ru_maxrss: Linux carries the
        # parent's RSS over exec (vfork), so ru_maxrss reports the benchmark's own size
        return rss_mib("VmHWM:")

    out = {}
    if mode == "pipeline":
        from server.core.config import Settings
        from server.core.db import engine_from_settings, session_factory
        from server.core.events import bus_from_url
        from server.storage import store_from_settings
        from workers.pipeline import process_upload

        async def main():
            settings = Settings()  # SATREPS_* from the parent, as `satreps worker` reads them
            engine = engine_from_settings(settings)
            ctx = {
                "settings": settings,
                "sessions": session_factory(engine),
                "store": store_from_settings(settings),
                "events": bus_from_url(settings.redis_url),
            }
            try:
                out["rss_before_mib"] = rss_mib()
                out["hwm_before_mib"] = rss_mib("VmHWM:")
                start = time.perf_counter()
                out["outcome"] = await process_upload(ctx, arg["upload_id"])
                out["seconds"] = time.perf_counter() - start
            finally:
                ctx["store"].close()
                await ctx["events"].close()
                await engine.dispose()

        asyncio.run(main())
    elif mode == "get_sha256":
        import urllib3
        from minio import Minio

        client = Minio(arg["endpoint"], access_key=arg["access_key"],
                       secret_key=arg["secret_key"], secure=False, region=arg["region"],
                       http_client=urllib3.PoolManager())
        out["rss_before_mib"] = rss_mib()
        start = time.perf_counter()
        response = client.get_object(arg["bucket"], arg["key"])
        digest, total = hashlib.sha256(), 0
        try:
            while chunk := response.read(4 << 20):
                digest.update(chunk)
                total += len(chunk)
        finally:
            response.close()
            response.release_conn()
        out["seconds"] = time.perf_counter() - start
        out["sha256"], out["bytes"] = digest.hexdigest(), total
    elif mode == "arrow":
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        out["rss_before_mib"] = rss_mib()
        start = time.perf_counter()
        table = pacsv.read_csv(arg["path"])
        pq.write_table(table, arg["out"])
        out["seconds"] = time.perf_counter() - start
        out["rows"] = table.num_rows
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["peak_mib"] = peak_mib()
    out["ru_maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    """
)


async def child(mode: str, arg: dict[str, Any], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; its numbers come back as JSON."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        mode,
        json.dumps(arg),
        cwd=cwd,  # no stray .env
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), CHILD_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RuntimeError(f"{mode} child did not finish within {CHILD_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise RuntimeError(
            f"{mode} child exited with {proc.returncode}:\n{stderr.decode()[-4000:]}"
        )
    return json.loads(stdout.decode().strip().splitlines()[-1])  # type: ignore[no-any-return]


# ---- inputs ----------------------------------------------------------------------------


def make_opaque(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)
    with path.open("wb") as fh:
        written = 0
        while written < size:
            piece = block[: size - written]
            fh.write(piece)
            written += len(piece)


def make_csv(path: Path, size: int) -> None:
    """About `size` bytes of a field-station table: ints, floats (some empty), text with
    quoting, a category, a date and a timestamp; batches of 50,000 rows with new ids."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    n = 50_000
    stations = [f"ST-{i:04d}" for i in range(997)]
    quality = ["good", "good", "good", "suspect", "missing"]
    notes = ["", "gauge reading", "manual check, after rain", 'sensor "B" replaced', "ok"]
    base_day = dt.date(2021, 1, 1)
    base_ts = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    base = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "station": pa.array([stations[i * 31 % 997] for i in range(n)]),
            "date": pa.array([base_day + dt.timedelta(days=i % 1461) for i in range(n)]),
            "observed_at": pa.array(
                [base_ts + dt.timedelta(seconds=i * 617) for i in range(n)],
                pa.timestamp("s", tz="UTC"),
            ),
            "level_m": pa.array([(i * 7919 % 10007) / 1000.0 for i in range(n)]),
            "temperature_c": pa.array(
                [None if i % 53 == 0 else round(15 + (i * 13 % 200) / 10.0, 1) for i in range(n)]
            ),
            "rainfall_mm": pa.array([(i * 2654435761 % 100003) / 1000.0 for i in range(n)]),
            "count": pa.array([i * 37 % 1000 for i in range(n)], pa.int32()),
            "quality": pa.array([quality[i % 5] for i in range(n)]),
            "note": pa.array([notes[i * 7 % 5] for i in range(n)]),
        }
    )
    with pacsv.CSVWriter(path, base.schema) as writer:
        offset = 0
        while path.stat().st_size < size:
            writer.write_table(base.set_column(0, "id", pc.add(base.column("id"), offset)))
            offset += n


SMALL_CSV = b"station,date,level_m,quality\n" + b"".join(
    b"ST-%04d,2023-01-%02d,%d.%03d,good\n" % (i, i + 1, i, i * 37) for i in range(12)
)


# ---- database, Redis -------------------------------------------------------------------


async def flush_redis() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()  # this database only
    finally:
        await redis.aclose()


@contextmanager
def redis_db7() -> Iterator[None]:
    asyncio.run(flush_redis())
    try:
        yield
    finally:
        asyncio.run(flush_redis())
        say(f"cleanup: flushed {REDIS_URL}")


@contextmanager
def seaweed(base: Path) -> Iterator[SeaweedS3]:
    process, info, _log = start_seaweed(base)
    say(f"SeaweedFS S3 on {info.endpoint} (up in {info.start_seconds:.1f} s)")
    try:
        yield info
    finally:
        stop_seaweed(process)
        say(f"cleanup: SIGKILLed weed (pid {process.pid})")


# ---- the setup the runs share -----------------------------------------------------------


@dataclass
class Bench:
    url: str
    s3: SeaweedS3
    tmp: Path
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    dataset: Dataset
    version: DatasetVersion

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
        env.update(
            SATREPS_DATABASE_URL=self.url,
            SATREPS_REDIS_URL=REDIS_URL,
            SATREPS_S3_ENDPOINT=self.s3.endpoint,
            SATREPS_S3_ACCESS_KEY=self.s3.access_key,
            SATREPS_S3_SECRET_KEY=self.s3.secret_key,
            SATREPS_S3_SECURE="false",
            SATREPS_S3_REGION=self.s3.region,
            SATREPS_OBJECT_DIR=str(self.tmp / "objects"),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            NO_COLOR="1",
        )
        return env


def bench_settings(url: str, s3: SeaweedS3, tmp: Path) -> Settings:
    return s3.settings(tmp / "objects", database_url=url, redis_url=REDIS_URL, auto_migrate=False)


async def open_bench(url: str, s3: SeaweedS3, tmp: Path) -> Bench:
    settings = bench_settings(url, s3, tmp)
    engine = make_engine(url)
    sessions = session_factory(engine)
    store = store_from_settings(settings)
    await store.ensure_buckets()
    for bucket in (store.buckets.raw, store.buckets.artifacts):  # SeaweedFS grows volumes on
        await store.put(bucket, f"warm-up/{uuid.uuid4().hex}", os.urandom(8 * MiB))  # first write
    async with sessions() as session:
        institution = Institution(
            name_en="Bench Institute", country_code="JP", kind=InstitutionKind.UNIVERSITY
        )
        project = Project(title="Bench project")
        session.add_all([institution, project])
        await session.flush()
        dataset = Dataset(
            project_id=project.id,
            owner_institution_id=institution.id,
            title="Ingest benchmark",
            licence="CC-BY-4.0",
            access_level=AccessLevel.PUBLIC,
        )
        session.add(dataset)
        await session.flush()
        version = DatasetVersion(dataset_id=dataset.id, number=1, state=VersionState.DRAFT)
        session.add(version)
        await session.commit()
    return Bench(url, s3, tmp, settings, engine, sessions, store, dataset, version)


async def close_bench(bench: Bench) -> None:
    bench.store.close()
    await bench.engine.dispose()


async def queued_upload(bench: Bench, filename: str, source: Path | bytes) -> tuple[int, str, str]:
    """An Upload row in QUEUED state whose raw object holds `source`: (id, key, sha256)."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        size = (await asyncio.to_thread(source.stat)).st_size
    async with bench.sessions() as session:
        upload = Upload(
            version_id=bench.version.id,
            filename=filename,
            object_key=f"pending/{uuid.uuid4().hex}",
            declared_size=size,
            state=UploadState.AWAITING_UPLOAD,
        )
        session.add(upload)
        await session.flush()
        upload.object_key = raw_key(bench.dataset, bench.version, upload)
        await session.commit()
        upload_id, key = upload.id, upload.object_key
    info = await bench.store.put(bench.store.buckets.raw, key, source)
    async with bench.sessions() as session:
        row = await session.get(Upload, upload_id)
        assert row is not None
        move(row, UploadState.UPLOADED)
        row.size = info.size
        move(row, UploadState.QUEUED)
        await session.commit()
    return upload_id, key, info.sha256 or ""


# ---- part 1: throughput and memory ------------------------------------------------------


@dataclass
class Row:
    kind: str
    mib: int
    size: int
    ours_s: float
    ours_peak: float
    ours_base_rss: float
    get_s: float
    get_peak: float
    arrow_s: float | None = None
    arrow_peak: float | None = None
    put_s: float = 0.0

    def mbps(self, seconds: float) -> float:
        return self.size / 1e6 / seconds


async def one_size(bench: Bench, kind: str, mib: int) -> Row:
    size = mib * MiB
    suffix = "bin" if kind == "opaque" else "csv"
    path = bench.tmp / f"{kind}-{mib}.{suffix}"
    started = time.perf_counter()
    await asyncio.to_thread(make_opaque if kind == "opaque" else make_csv, path, size)
    size = path.stat().st_size
    say(
        f"  {kind} {mib} MiB: generated {size / 1e6:.0f} MB in {time.perf_counter() - started:.1f} s"
    )
    env, cwd = bench.env(), bench.tmp
    try:
        started = time.perf_counter()
        upload_id, key, sha = await queued_upload(bench, path.name, path)
        put_s = time.perf_counter() - started
        say(f"  {kind} {mib} MiB: PUT into the raw bucket at {size / 1e6 / put_s:.0f} MB/s")
        get_arg = {
            "endpoint": bench.s3.endpoint,
            "access_key": bench.s3.access_key,
            "secret_key": bench.s3.secret_key,
            "region": bench.s3.region,
            "bucket": bench.store.buckets.raw,
            "key": key,
        }
        gets = [await child("get_sha256", get_arg, env, cwd)]
        ours = await child("pipeline", {"upload_id": upload_id}, env, cwd)
        gets.append(await child("get_sha256", get_arg, env, cwd))
        if ours.get("outcome") != "ready":
            raise RuntimeError(f"pipeline ended {ours.get('outcome')!r} for {kind} {mib} MiB")
        async with bench.sessions() as session:
            row = await session.get(Upload, upload_id)
            assert row is not None and row.state == UploadState.READY, row and row.state
            assert row.sha256 == sha, (row.sha256, sha)
        for got in gets:
            assert got["sha256"] == sha and got["bytes"] == size, got
        get = min(gets, key=lambda g: g["seconds"])
        result = Row(
            kind,
            mib,
            size,
            ours["seconds"],
            ours["peak_mib"],
            ours["rss_before_mib"],
            get["seconds"],
            get["peak_mib"],
            put_s=put_s,
        )
        if kind == "csv":
            parquet = bench.tmp / "baseline.parquet"
            arrow = await child("arrow", {"path": str(path), "out": str(parquet)}, env, cwd)
            parquet.unlink(missing_ok=True)
            result.arrow_s, result.arrow_peak = arrow["seconds"], arrow["peak_mib"]
        line = (
            f"  {kind} {mib} MiB: pipeline {result.mbps(result.ours_s):.0f} MB/s "
            f"(peak RSS {result.ours_peak:.0f} MiB), GET+sha256 {result.mbps(result.get_s):.0f} MB/s"
        )
        if result.arrow_s is not None:
            line += f", pyarrow {result.mbps(result.arrow_s):.0f} MB/s (peak RSS {result.arrow_peak:.0f} MiB)"
        say(line)
        say(
            f"    worker RSS before the job {ours['rss_before_mib']:.0f} MiB, its peak until then"
            f" {ours['hwm_before_mib']:.0f} MiB; ru_maxrss {ours['ru_maxrss_mib']:.0f} MiB"
            f" (inherits the parent's {parent_mib():.0f} MiB over exec)"
        )
        return result
    finally:
        path.unlink(missing_ok=True)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report_throughput(rows: list[Row]) -> None:
    say("")
    say("Whole pipeline (process_upload in a child: S3 GET, hash, detect, profile, Parquet,")
    say("preview, artifact PUTs, READY) against the baselines on the same bytes, same run:")
    say("")
    head = (
        f"{'input':6} {'size':>8} {'pipeline':>9} {'worker':>8} {'(a) GET':>9} {'ratio':>6}"
        f" {'(b) arrow':>10} {'arrow':>7} {'ratio':>6}"
    )
    say(head)
    say(
        f"{'':6} {'MiB':>8} {'MB/s':>9} {'peak MiB':>8} {'+sha MB/s':>9} {'to a':>6}"
        f" {'MB/s':>10} {'pk MiB':>7} {'to b':>6}"
    )
    say("-" * len(head))
    for r in rows:
        ratio_a = r.get_s / r.ours_s
        arrow = ratio_b = ""
        if r.arrow_s is not None and r.arrow_peak is not None:
            arrow = f"{r.mbps(r.arrow_s):10.0f} {r.arrow_peak:7.0f}"
            ratio_b = f"{r.arrow_s / r.ours_s:6.2f}"
        else:
            arrow = f"{'-':>10} {'-':>7}"
            ratio_b = f"{'-':>6}"
        say(
            f"{r.kind:6} {r.mib:8d} {r.mbps(r.ours_s):9.0f} {r.ours_peak:8.0f}"
            f" {r.mbps(r.get_s):9.0f} {ratio_a:6.2f} {arrow} {ratio_b}"
        )
    say("")
    say("Targets:")
    for r in rows:
        if r.kind == "opaque":
            ratio = r.get_s / r.ours_s
            say(
                f"  opaque {r.mib:5d} MiB: {ratio:.2f}x of (a) GET+sha256"
                f"  (target >= {TARGET_OPAQUE})  {verdict(ratio >= TARGET_OPAQUE)}"
            )
        elif r.arrow_s is not None:
            ratio = r.arrow_s / r.ours_s
            say(
                f"  csv    {r.mib:5d} MiB: {ratio:.2f}x of (b) pyarrow read_csv+write_table"
                f"  (target >= {TARGET_CSV})  {verdict(ratio >= TARGET_CSV)}"
            )
    peak = max(r.ours_peak for r in rows)
    say(
        f"  worker peak RSS: at most {peak:.0f} MiB over all runs (target <= {TARGET_RSS:.0f})"
        f"  {verdict(peak <= TARGET_RSS)}"
    )
    for kind in ("opaque", "csv"):
        mine = sorted((r for r in rows if r.kind == kind), key=lambda r: r.mib)
        if len(mine) >= 2:
            lo, hi = mine[0], mine[-1]
            growth = hi.ours_peak - lo.ours_peak
            say(
                f"  {kind} peak RSS {lo.mib} -> {hi.mib} MiB input: {lo.ours_peak:.0f} -> "
                f"{hi.ours_peak:.0f} MiB ({growth:+.0f} MiB for {hi.mib / lo.mib:.0f}x the bytes)"
                f"  {verdict(growth <= 0.1 * lo.ours_peak)} (flat: within 10%)"
            )
    say(
        f"  (the worker child's RSS after its imports, before the job: "
        f"{min(r.ours_base_rss for r in rows):.0f}-{max(r.ours_base_rss for r in rows):.0f} MiB)"
    )


async def throughput(bench: Bench, sizes: list[int]) -> list[Row]:
    rows = []
    for mib in sizes:
        for kind in ("opaque", "csv"):
            rows.append(await one_size(bench, kind, mib))
    return rows


# ---- part 2: a real worker, job start latency and small-file jobs/s ----------------------


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return "<no log>"


def spawn_worker(bench: Bench) -> Worker:
    log = bench.tmp / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SATREPS, "worker"],
            env=bench.env(),
            cwd=bench.tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Worker(process, log)


def stop_worker(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)  # arq shuts down gracefully on SIGTERM
        try:
            worker.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait(timeout=30)
    say(f"cleanup: stopped satreps worker (pid {worker.process.pid})")


async def wait_polling(worker: Worker) -> float:
    redis = Redis.from_url(REDIS_URL)
    started = time.monotonic()
    try:
        while not await redis.exists(HEALTH_KEY):
            if worker.process.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {worker.process.returncode}:\n{worker.output()}"
                )
            if time.monotonic() - started > 60:
                raise RuntimeError(f"worker not polling after 60 s:\n{worker.output()}")
            await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    return time.monotonic() - started


async def small_uploads(bench: Bench, prefix: str, count: int) -> list[int]:
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> int:
        async with gate:
            upload_id, _, _ = await queued_upload(bench, f"{prefix}-{i:05d}.csv", SMALL_CSV)
            return upload_id

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def states(bench: Bench, ids: list[int]) -> list[Upload]:
    async with bench.sessions() as session:
        return list(await session.scalars(select(Upload).where(Upload.id.in_(ids))))


async def wait_final(bench: Bench, ids: list[int], within: float, every: float) -> list[Upload]:
    deadline = time.monotonic() + within
    while True:
        rows = await states(bench, ids)
        if all(r.state in FINAL for r in rows):
            return rows
        if time.monotonic() > deadline:
            waiting = sum(r.state not in FINAL for r in rows)
            raise RuntimeError(f"{waiting} of {len(ids)} uploads not final after {within} s")
        await asyncio.sleep(every)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def jobs_part(bench: Bench, worker: Worker, latency_jobs: int, small_jobs: int) -> None:
    up = await wait_polling(worker)
    say(f"  satreps worker polling after {up:.1f} s (queue {QUEUE!r}, {REDIS_URL})")
    jobs = ArqJobs(REDIS_URL, queue_name=QUEUE)
    try:
        # Start latency: one job at a time, so no job waits behind another.
        ids = await small_uploads(bench, "latency", latency_jobs + 5)
        warm, ids = ids[:5], ids[5:]
        for upload_id in warm:  # the worker's first jobs open connections and import lazily
            await jobs.enqueue(PROCESS_UPLOAD, upload_id, job_id=job_id(upload_id, 0))
            await wait_final(bench, [upload_id], 30, 0.005)
        enqueued: dict[int, dt.datetime] = {}
        for upload_id in ids:
            enqueued[upload_id] = utcnow()
            await jobs.enqueue(PROCESS_UPLOAD, upload_id, job_id=job_id(upload_id, 0))
            await wait_final(bench, [upload_id], 30, 0.005)
        rows = await states(bench, ids)
        bad = [r.id for r in rows if r.state != UploadState.READY]
        if bad:
            raise RuntimeError(f"latency uploads not READY: {bad[:10]}\n{worker.output()}")
        start_ms = [
            (r.started_at - enqueued[r.id]).total_seconds() * 1000
            for r in rows
            if r.started_at is not None
        ]
        ready_ms = [
            (r.finished_at - enqueued[r.id]).total_seconds() * 1000
            for r in rows
            if r.finished_at is not None
        ]
        p50 = statistics.median(start_ms)

        # Small-file throughput: N jobs enqueued at once, until all READY.
        ids = await small_uploads(bench, "small", small_jobs)
        started = time.perf_counter()
        await asyncio.gather(*(jobs.enqueue(PROCESS_UPLOAD, i, job_id=job_id(i, 0)) for i in ids))
        rows = await wait_final(bench, ids, 300, 0.02)
        elapsed = time.perf_counter() - started
        ready = sum(r.state == UploadState.READY for r in rows)
    finally:
        await jobs.close()

    say("")
    say(
        f"Jobs through a real `satreps worker` (arq, poll_delay 0.02 s, max_jobs 8), uploads of "
        f"{len(SMALL_CSV)} bytes (CSV):"
    )
    say(
        f"  start latency, enqueue -> PROCESSING (started_at), {len(start_ms)} jobs one at a time:"
        f" p50 {p50:.1f} ms, p99 {pct(start_ms, 0.99):.1f} ms, max {max(start_ms):.1f} ms"
        f"  (target p50 <= {TARGET_LATENCY_MS:.0f} ms)  {verdict(p50 <= TARGET_LATENCY_MS)}"
    )
    say(
        f"  enqueue -> READY for the same jobs: p50 {statistics.median(ready_ms):.1f} ms,"
        f" p99 {pct(ready_ms, 0.99):.1f} ms"
    )
    say(
        f"  small-file jobs: {small_jobs} enqueued at once, all final in {elapsed:.2f} s:"
        f" {small_jobs / elapsed:.0f} jobs/s ({ready} READY)"
    )


# ---- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,1024", help="input sizes in MiB, comma-separated")
    parser.add_argument("--small-jobs", type=int, default=200)
    parser.add_argument("--latency-jobs", type=int, default=50)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    wall = time.perf_counter()
    say(
        f"ingest benchmark: sizes {sizes} MiB, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    if 2048 not in sizes:
        say(
            "  2 GiB skipped (not asked: it adds about 3 minutes of generating, uploading and"
            " processing, and the pyarrow baseline peaks near 6 GiB of RAM; run with --sizes 256,1024,2048)"
        )
    tmp = Path(tempfile.mkdtemp(prefix="satreps-bench-ingest-"))
    try:
        with redis_db7(), fresh_database("ingest", say) as url, seaweed(tmp / "seaweed") as s3:
            upgrade(url)

            async def part1() -> tuple[Bench, list[Row]]:
                bench = await open_bench(url, s3, tmp)
                try:
                    return bench, await throughput(bench, sizes)
                finally:
                    await close_bench(bench)

            say("Part 1: throughput and peak RSS")
            bench, rows = asyncio.run(part1())
            report_throughput(rows)

            say("")
            say("Part 2: job start latency and small-file jobs/s")
            worker = spawn_worker(bench)
            try:

                async def part2() -> None:
                    fresh = await open_bench(url, s3, tmp)  # a new version for the small files
                    try:
                        await jobs_part(fresh, worker, args.latency_jobs, args.small_jobs)
                    finally:
                        await close_bench(fresh)

                asyncio.run(part2())
            finally:
                stop_worker(worker)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        say(f"cleanup: removed {tmp}")
    say(f"total wall time {time.perf_counter() - wall:.0f} s")


if __name__ == "__main__":
    main()
