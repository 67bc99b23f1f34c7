"""Ingest core throughput and memory: prints MB/s, ratios to the baselines and peak RSS.

    .venv/bin/python bench/ingest_core.py [SIZE_MIB ...]   (default: 256 1024)

- opaque: `process_chunks` over a binary file read in 1 MiB chunks, against reading the
  same chunks and hashing them with hashlib sha256 alone (target ratio >= 0.6).
- csv: `process_chunks` on a generated CSV (hash, spool, profile, Parquet, preview), against
  pyarrow `read_csv` + `write_table` (target ratio >= 0.5).
Each run is its own subprocess, so its peak RSS (VmHWM) is its own (target <= 256 MiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUN = textwrap.dedent(
    """
    import hashlib, json, sys, time
    from pathlib import Path
    kind, path, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024

    def chunks():
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                yield chunk

    import pyarrow.csv as pacsv, pyarrow.parquet as pq
    from workers.processing import process_chunks
    start = time.perf_counter()
    if kind == "sha256":
        h = hashlib.sha256()
        for c in chunks():
            h.update(c)
    elif kind == "arrow":
        pq.write_table(pacsv.read_csv(path), work / "baseline.parquet")
    else:
        process_chunks(chunks(), filename=path.name, declared_size=None,
                       declared_sha256=None, workdir=work)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mib": hwm()}))
    """
)


def measure(kind: str, path: Path, work: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, kind, str(path), str(work)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def best(kind: str, path: Path, work: Path, runs: int = 2) -> dict[str, float]:
    results = [measure(kind, path, work) for _ in range(runs)]
    return min(results, key=lambda r: r["seconds"])


def make_opaque(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(block)


def make_csv(path: Path, size: int) -> None:
    from tests.fixtures.processing import generate_csv

    generate_csv(path, size)


def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for mib in sizes:
            size = mib << 20
            for name, make, fast, base in (
                ("opaque", make_opaque, "process", "sha256"),
                ("csv", make_csv, "process", "arrow"),
            ):
                src = tmp / f"input.{'bin' if name == 'opaque' else 'csv'}"
                make(src, size)
                real = src.stat().st_size / 1e6
                ours = best(fast, src, tmp)
                theirs = best(base, src, tmp)
                print(
                    f"{name:6} {mib:5d} MiB  ours {real / ours['seconds']:7.1f} MB/s "
                    f"(peak {ours['peak_mib']:.0f} MiB)  {base} {real / theirs['seconds']:7.1f} MB/s "
                    f"(peak {theirs['peak_mib']:.0f} MiB)  ratio {theirs['seconds'] / ours['seconds']:.2f}",
                    flush=True,
                )
                src.unlink()


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [256, 1024])
