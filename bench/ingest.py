"""Benchmark: uploads through the whole ingest pipeline against raw S3 and pyarrow baselines.

    .venv/bin/python bench/ingest.py [--sizes 256,1024] [--small-jobs 200] [--latency-jobs 50]
        [--fixity-rounds 3] [--fixity-mib N] [--skip-jobs]
        [--formats MIB [--formats-only] [--xlsx-rows N]]   (research formats: ingest_formats.py)

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

Part 3 (bench/ingest_fixity.py), run after part 1: the pipeline on one opaque file with the
fixity cron off and on, alternating, same run (target: at most 10% slower with it on).

Everything shares one 2-core machine with the servers: absolute numbers vary from run to
run; the ratios, measured in the same run, are the point.

Beside this file: ingest_child.py (the measuring child) and ingest_setup.py (inputs,
services, the bench's dataset version and its queued uploads).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import fresh_database  # noqa: E402
from ingest_child import child  # noqa: E402
from ingest_fixity import fixity_cost, report_fixity  # noqa: E402
from ingest_formats import formats_run  # noqa: E402
from ingest_setup import (  # noqa: E402
    REDIS_URL,
    SMALL_CSV,
    Bench,
    MiB,
    close_bench,
    make_csv,
    make_opaque,
    open_bench,
    queued_upload,
    redis_db7,
    say,
    seaweed,
)
from redis.asyncio import Redis  # noqa: E402
from sqlalchemy import select  # noqa: E402

from server.core.db import utcnow  # noqa: E402
from server.core.jobs import PROCESS_UPLOAD, ArqJobs  # noqa: E402
from server.datasets.upload_states import FINAL  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from server.models import Upload  # noqa: E402
from server.models.enums import UploadState  # noqa: E402
from workers.main import QUEUE  # noqa: E402
from workers.pipeline import job_id  # noqa: E402

HEALTH_KEY = QUEUE + ":health-check"  # arq writes it on the worker's first poll
SATREPS = str(Path(sys.executable).with_name("satreps"))
TARGET_OPAQUE, TARGET_CSV, TARGET_RSS, TARGET_LATENCY_MS = 0.6, 0.5, 256.0, 20.0


def parent_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


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
    parser.add_argument(
        "--fixity-rounds",
        type=int,
        default=3,
        help="part 3: pipeline runs with the fixity cron off and on, each (0: skip)",
    )
    parser.add_argument(
        "--fixity-mib", type=int, default=None, help="part 3's file size (default: the smallest)"
    )
    parser.add_argument("--skip-jobs", action="store_true", help="leave part 2 out")
    parser.add_argument("--formats", type=int, default=0, metavar="MIB", help="research formats")
    parser.add_argument("--formats-only", action="store_true", help="skip parts 1 and 2")
    parser.add_argument("--xlsx-rows", type=int, default=200_000)
    parser.add_argument(
        "--formats-rows",
        default=None,
        help="research formats: only these rows (comma-separated: netcdf4, geotiff, cog, xlsx)",
    )
    parser.add_argument(
        "--formats-work-dir",
        default=None,
        metavar="DIR",
        help="research formats: each pipeline row once more with SATREPS_WORK_DIR=DIR (e.g. a"
        " tmpfs such as /dev/shm/satreps-work: where the spool goes)",
    )
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
            if args.formats:  # bench/ingest_formats.py: NetCDF-4, GeoTIFF, XLSX rows
                say(f"Research formats: {args.formats} MiB NetCDF-4 and GeoTIFF, an XLSX")
                asyncio.run(
                    formats_run(
                        url,
                        s3,
                        tmp,
                        args.formats,
                        args.xlsx_rows,
                        args.formats_work_dir,
                        set(args.formats_rows.split(",")) if args.formats_rows else None,
                    )
                )
                if args.formats_only:
                    return

            async def part1() -> tuple[Bench, list[Row]]:
                bench = await open_bench(url, s3, tmp)
                try:
                    return bench, await throughput(bench, sizes)
                finally:
                    await close_bench(bench)

            say("Part 1: throughput and peak RSS")
            bench, rows = asyncio.run(part1())
            report_throughput(rows)

            if args.fixity_rounds > 0:
                say("")
                say("Part 3: ingest with the fixity cron running vs not, same run")
                mib = args.fixity_mib or min(sizes)

                async def part3() -> tuple[float, float]:
                    fresh = await open_bench(url, s3, tmp)
                    try:
                        return await fixity_cost(fresh, mib, args.fixity_rounds)
                    finally:
                        await close_bench(fresh)

                report_fixity(mib, *asyncio.run(part3()))

            if not args.skip_jobs:
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
