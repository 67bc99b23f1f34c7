"""The measuring child of bench/ingest.py: one measurement (the pipeline's
`process_upload`, a GET + sha256 of the object, pyarrow's read_csv + write_table) in a
fresh interpreter, which prints its time and its own peak RSS as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

CHILD_TIMEOUT = 1800.0

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
                "events": bus_from_url(settings.redis_url, settings.redis_prefix),
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


async def child(
    mode: str, arg: dict[str, Any], env: dict[str, str], cwd: Path, code: str = CHILD
) -> dict[str, Any]:
    """Run one measurement (`code`: CHILD, or ingest_formats.py's) in a fresh interpreter;
    its numbers come back as JSON."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
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
