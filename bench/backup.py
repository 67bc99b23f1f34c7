"""`satreps backup` and `satreps restore` of a store of a given size, against a plain copy
of the same objects in the same run (MB/s and the ratio).

    .venv/bin/python bench/backup.py                 # 0.25 GiB on the local store + SQLite
    .venv/bin/python bench/backup.py --gib 10        # the 10 GiB figure (minutes, disk space)
    .venv/bin/python bench/backup.py --modes local,s3

local: the objects in the local store, SQLite; the baseline copies the store's files into
another directory (read, write, fsync). s3: SeaweedFS (started here), PostgreSQL (a fresh
database), SATREPS_BACKUP_BUCKET; the baseline is a GET + PUT of every object into another
bucket. The backup hashes every object and (s3) reads every copy back; the restore reads
every copy twice (a verifying pass first, then the copy into the store).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

from common import fresh_database

from server.backup import backup, restore
from server.core.config import Settings
from server.migrations import upgrade
from server.storage import ObjectStore, store_from_settings

MiB = 1024 * 1024
CHUNK = 4 * MiB


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def fill(store: ObjectStore, total: int, files: int) -> None:
    """`files` objects of random bytes in the raw bucket, `total` bytes in all."""
    block = os.urandom(CHUNK)
    size = max(1, total // files)

    async def body(n: int) -> AsyncIterator[bytes]:
        left = size
        while left:
            piece = block[: min(left, CHUNK)]
            first = left == size and len(piece) >= 8
            yield n.to_bytes(8, "big") + piece[8:] if first else piece
            left -= len(piece)

    for n in range(files):
        await store.put(store.buckets.raw, f"bench/{n:05d}.bin", body(n), size=size)


def copy_tree(source: Path, target: Path) -> int:
    copied = 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
        copied += path.stat().st_size
    return copied


async def copy_bucket(store: ObjectStore, bucket: str, target: str) -> int:
    copied = 0
    async for info in store.list(bucket):
        async with await store.open_read(bucket, info.key) as reader:
            await store.put(target, info.key, reader, size=info.size)
        copied += info.size
    return copied


def rate(size: int, seconds: float) -> str:
    return f"{size / 1e6 / seconds:7.1f} MB/s ({seconds:6.2f} s)"


@contextmanager
def postgres_pair() -> Iterator[tuple[str, str]]:
    with fresh_database("backup_src", say) as source, fresh_database("backup_dst", say) as target:
        yield source, target


async def measure(
    name: str, source: Settings, target: Settings, work: Path, total: int, files: int
) -> None:
    await asyncio.to_thread(upgrade, source.database_url)
    store = store_from_settings(source)
    await store.ensure_buckets()
    say(f"{name}: writing {files} objects, {total / 2**30:.2f} GiB")
    await fill(store, total, files)
    # the fill's dirty pages written back first: the plain copy, measured next, must not pay
    # for them (it did: at 10 GiB the local plain copy ran at half the backup's rate)
    await asyncio.to_thread(os.sync)
    started = time.monotonic()
    if source.s3_endpoint:
        plain_bucket = f"plain-{uuid.uuid4().hex[:8]}"
        plain_store = store_from_settings(source.model_copy(update={"bucket_raw": plain_bucket}))
        await plain_store.ensure_buckets()
        copied = await copy_bucket(store, store.buckets.raw, plain_bucket)
        plain_store.close()
    else:
        copied = await asyncio.to_thread(
            copy_tree, Path(source.object_dir) / store.buckets.raw, work / "plain"
        )
    plain = time.monotonic() - started
    store.close()
    await asyncio.to_thread(os.sync)  # each phase starts with no writes of the last pending
    made = await backup(source, work / "backup")
    back = made.database_seconds + made.objects_seconds
    await asyncio.to_thread(os.sync)
    started = time.monotonic()
    restored = await restore(target, work / "backup")
    again = time.monotonic() - started
    print(f"{name}: {made.objects} objects, {made.bytes / 2**30:.2f} GiB")
    print(f"  plain copy  {rate(copied, plain)}")
    print(
        f"  backup      {rate(made.bytes, back)}  {plain / back:.2f}x of the plain copy"
        f"  (database {made.database_seconds:.2f} s)"
    )
    print(
        f"  restore     {rate(restored.bytes, again)}  {plain / again:.2f}x of the plain copy"
        f"  (database {restored.database_seconds:.2f} s)"
    )


def run_local(total: int, files: int, base: Path) -> None:
    source = Settings(
        database_url=f"sqlite+aiosqlite:///{base / 'source.db'}", object_dir=base / "source-objects"
    )
    target = Settings(
        database_url=f"sqlite+aiosqlite:///{base / 'target.db'}", object_dir=base / "target-objects"
    )
    asyncio.run(measure("local", source, target, base, total, files))


def run_s3(total: int, files: int, base: Path) -> None:
    from ingest_setup import seaweed

    with seaweed(base / "seaweed") as s3, postgres_pair() as (source_url, target_url):
        tag = uuid.uuid4().hex[:8]

        def settings(url: str, side: str) -> Settings:
            return s3.settings(
                base / f"{side}-objects",
                database_url=url,
                bucket_raw=f"raw-{side}-{tag}",
                bucket_artifacts=f"artifacts-{side}-{tag}",
                bucket_provenance=f"provenance-{side}-{tag}",
                backup_bucket=f"backup-{tag}",
            )

        asyncio.run(
            measure(
                "s3", settings(source_url, "src"), settings(target_url, "dst"), base, total, files
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gib", type=float, default=0.25, help="store size in GiB")
    parser.add_argument("--files", type=int, default=0, help="objects (default: 64 MiB each)")
    parser.add_argument("--modes", default="local", help="local,s3")
    parser.add_argument("--dir", type=Path, default=None, help="where the stores go (disk)")
    args = parser.parse_args()
    total = int(args.gib * 2**30)
    files = args.files or max(1, total // (64 * MiB))
    for mode in args.modes.split(","):
        base = Path(tempfile.mkdtemp(prefix=f"satreps-bench-backup-{mode}-", dir=args.dir))
        try:
            {"local": run_local, "s3": run_s3}[mode](total, files, base)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            say(f"cleanup: removed {base}")


if __name__ == "__main__":
    main()
