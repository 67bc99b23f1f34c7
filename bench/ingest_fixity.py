"""Part 3 of bench/ingest.py: what the fixity cron costs ingest.

The same opaque file goes through the pipeline child (as in part 1) `rounds` times with no
fixity running and `rounds` times with a fixity process running beside it, alternating
(off, on, on, off, ...) so that drift of the shared machine falls on both. The fixity
process runs the cron's own function (`workers.fixity.scheduled_fixity_job`) in a loop with
everything due again at once (SATREPS_FIXITY_EVERY_DAYS tiny), that is harder than the real
cron's one run a minute, at the rate of SATREPS_FIXITY_BYTES_PER_SECOND (the default unless
the caller's environment sets it), over every raw object the benchmark stored.
Target: ingest at most 10% slower with it on (median over median).
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from ingest_child import child
from ingest_setup import Bench, MiB, make_opaque, queued_upload, say

TARGET_SLOWDOWN = 1.10

FIXITY_LOOP = textwrap.dedent(
    """
    import asyncio, sys
    from server.core.config import Settings
    from server.core.db import engine_from_settings, session_factory
    from server.storage import store_from_settings
    from server.provenance.fixity_schedule import TokenBucket
    from workers.context import worker_context
    from workers.fixity import scheduled_fixity_job

    class Counting(TokenBucket):  # the cron's own bucket, saying what it lets through
        async def take(self, n):
            await super().take(n)
            print("read", n, flush=True)

    async def main():
        settings = Settings(fixity_every_days=1e-9, fixity_run_seconds=5)
        engine = engine_from_settings(settings)
        ctx = worker_context(settings, session_factory(engine), store_from_settings(settings))
        ctx["fixity_bucket"] = Counting(settings.fixity_bytes_per_second)
        while True:
            checked = await scheduled_fixity_job(ctx)
            print("checked", checked, flush=True)
            if not checked:
                await asyncio.sleep(0.2)

    asyncio.run(main())
    """
)


def start_fixity(bench: Bench, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-c", FIXITY_LOOP],
            env=bench.env(),
            cwd=bench.tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _log(log: Path) -> tuple[int, int, str]:
    """(chunks read, bytes read, the tail) of the fixity loop's output so far."""
    text = log.read_text() if log.exists() else ""
    reads = [int(line.split()[1]) for line in text.splitlines() if line.startswith("read ")]
    return len(reads), sum(reads), text[-3000:]


async def reading(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the fixity loop has read its first chunk (imports done, a run under way)."""
    start = _log(log)[0]
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"fixity loop died:\n{_log(log)[2]}")
        if _log(log)[0] > start:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError("the fixity loop read nothing within 30 s")


def stop_fixity(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)  # its state is in the database: nothing to keep
        process.wait(timeout=30)


async def fixity_cost(bench: Bench, mib: int, rounds: int) -> tuple[float, float]:
    """(median pipeline seconds without, with the fixity loop) for an opaque file of `mib`."""
    path = bench.tmp / f"fixity-{mib}.bin"
    make_opaque(path, mib * MiB)
    env, cwd = bench.env(), bench.tmp
    rate = int(env.get("SATREPS_FIXITY_BYTES_PER_SECOND", 32 * MiB))
    say(f"  fixity at {rate / MiB:.0f} MiB/s beside ingest of {mib} MiB, {rounds} rounds each")
    times: dict[str, list[float]] = {"off": [], "on": []}
    log = bench.tmp / "fixity.log"
    try:
        for n in range(rounds):
            for mode in ("off", "on") if n % 2 == 0 else ("on", "off"):
                upload_id, _, _ = await queued_upload(bench, f"fixity-{mode}-{n}.bin", path)
                fixity = start_fixity(bench, log) if mode == "on" else None
                try:
                    if fixity is not None:
                        await reading(fixity, log)
                    ours = await child("pipeline", {"upload_id": upload_id}, env, cwd)
                finally:
                    if fixity is not None:
                        stop_fixity(fixity)
                if ours.get("outcome") != "ready":
                    raise RuntimeError(f"pipeline ended {ours.get('outcome')!r}")
                times[mode].append(ours["seconds"])
                say(f"    round {n + 1} fixity {mode:3}: pipeline {ours['seconds']:.3f} s")
    finally:
        path.unlink(missing_ok=True)
    read = _log(log)[1]
    say(
        f"  (the fixity loop read {read / MiB:.0f} MiB in all, beside {rounds} pipeline runs"
        f" and its own start-ups)"
    )
    return statistics.median(times["off"]), statistics.median(times["on"])


def report_fixity(mib: int, off: float, on: float) -> None:
    ratio = on / off
    mbps = mib * MiB / 1e6
    say("")
    say(
        f"  ingest {mib} MiB opaque: {mbps / off:.0f} MB/s without fixity, {mbps / on:.0f} MB/s"
        f" with it: {ratio:.2f}x the time (target <= {TARGET_SLOWDOWN:.2f})"
        f"  {'ok' if ratio <= TARGET_SLOWDOWN else 'MISSED'}"
    )
