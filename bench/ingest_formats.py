"""Research formats through the ingest pipeline (issue 19's benchmark rows), run by
`bench/ingest.py --formats` in the same run as its baselines, on its services.

Inputs, written in the temporary directory by the formats' own libraries:
- NetCDF-4 (netCDF4): a daily 0.25-degree global grid of near-surface air temperature
  (float32, CF attributes, time x lat x lon = N x 721 x 1440, chunked one day a chunk,
  uncompressed: values are a seasonal and latitudinal field plus weather noise);
- GeoTIFF (rasterio): a tiled (512 x 512) float32 elevation grid in UTM zone 48N, square,
  without overviews (the worker spools it: its pixel sample touches every block);
- COG: the same grid rewritten by GDAL's COG driver (overviews, IFDs first: the worker
  reads it by range from S3, as it reads the NetCDF-4 file's header and coordinates);
- XLSX (openpyxl, write-only): a field-station sheet (id, station, date, level, rain,
  quality), and the same rows as a CSV for pyarrow.

Rows, each measurement in a fresh child interpreter (ingest_child.child):
1. whole pipeline (`process_upload`: S3 GET, sha256, spool or ranged reads, sandboxed
   extraction, artifacts, READY) against GET + sha256 of the same object (target >= 0.6x) and the worker's peak
   RSS (VmHWM, target <= 256 MiB). The pipeline child warms the sandbox's fork server
   first, as a worker that has read a native file before has it.
2. metadata extraction: the format's extractor through the sandbox (a warm fork server and
   its spare child, as in a worker) against the library's own header read of the same local file
   (netCDF4.Dataset + every variable's attributes; rasterio.open + profile), target <= 2x;
   the extractor called in-process too, to show the sandbox's own cost. A raster's second
   step (its pixels: statistics and quicklook, native.FOLLOW_UPS) is timed on its own. The sandbox
   child's peak RSS is sampled from /proc (it is the fork server's child, outside the
   worker's RSS; sampling costs CPU, so not during the pipeline row).
3. XLSX: the pipeline and the sandboxed extraction against openpyxl (read-only, every row
   of the sheet) and pyarrow (read_csv + write_table of the same rows as CSV).
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from pathlib import Path
from typing import Any

from ingest_child import child
from ingest_setup import Bench, MiB, queued_upload, say

TARGET_PIPELINE, TARGET_RSS, TARGET_EXTRACT = 0.6, 256.0, 2.0

CHILD = textwrap.dedent(
    """
    import asyncio, json, os, sys, threading, time
    from pathlib import Path

    mode, arg = sys.argv[1], json.loads(sys.argv[2])
    out = {}

    def status(pid, field):
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith(field):
                        return int(line.split()[1]) / 1024
        except OSError:
            return 0.0
        return 0.0

    class Descendants(threading.Thread):
        # the sandbox's children are the fork server's, not ours: their peak RSS is
        # sampled (VmHWM of every descendant, every 20 ms) before they exit
        def __init__(self):
            super().__init__(daemon=True)
            self.peak, self.stop = 0.0, threading.Event()

        def run(self):
            me = os.getpid()
            while not self.stop.wait(0.02):
                parents = {}
                for entry in os.listdir("/proc"):
                    if entry.isdigit():
                        try:
                            with open(f"/proc/{entry}/stat") as fh:
                                parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                        except (OSError, IndexError, ValueError):
                            pass
                mine, grew = {me}, True
                while grew:
                    found = {p for p, pp in parents.items() if pp in mine} - mine
                    grew, mine = bool(found), mine | found
                for pid in mine - {me}:
                    self.peak = max(self.peak, status(pid, "VmHWM:"))

    def warm_sandbox(workdir):
        # a worker that has read a native file before has its fork server running
        from workers.processing import sandbox
        from workers.processing.model import Limits, ProcessingError
        Path(workdir).mkdir(parents=True, exist_ok=True)
        try:  # any target starts the fork server (with its preloaded modules)
            sandbox.run_extractor("os.path:exists", Path(workdir), Path(workdir), Limits(), {})
        except ProcessingError:
            pass
        time.sleep(1.0)  # its spare child forked, as between two files in a worker

    def options(kind):
        from workers.processing import native
        from workers.processing.model import Limits
        return {"kind": kind, "detail": None, **native._options(Limits())}

    if mode == "pipeline":
        from server.core.config import Settings
        from server.core.db import engine_from_settings, session_factory
        from server.core.events import bus_from_url
        from server.storage import store_from_settings
        from workers.pipeline import process_upload

        async def main():
            settings = Settings()
            engine = engine_from_settings(settings)
            ctx = {
                "settings": settings,
                "sessions": session_factory(engine),
                "store": store_from_settings(settings),
                "events": bus_from_url(settings.redis_url, settings.redis_prefix),
            }
            try:
                warm_sandbox(arg["warm_dir"])
                out["rss_before_mib"] = status("self", "VmRSS:")
                start = time.perf_counter()
                out["outcome"] = await process_upload(ctx, arg["upload_id"])
                out["seconds"] = time.perf_counter() - start
            finally:
                ctx["store"].close()
                await ctx["events"].close()
                await engine.dispose()

        asyncio.run(main())
    elif mode in ("sandbox", "inprocess"):
        import importlib
        from workers.processing import native, sandbox
        from workers.processing.model import Limits
        target = native.EXTRACTORS[arg["kind"]]
        if arg.get("step") == "pixels":  # a raster's second step: statistics, quicklook
            target = native.FOLLOW_UPS["raster"][0]
        work = Path(arg["workdir"])
        work.mkdir(parents=True, exist_ok=True)
        if mode == "sandbox":
            warm_sandbox(arg["workdir"])
            watch = Descendants()
            watch.start()
            start = time.perf_counter()
            answer = sandbox.run_extractor(target, Path(arg["path"]), work, Limits(),
                                           options(arg["kind"]))
            out["seconds"] = time.perf_counter() - start
            watch.stop.set()
            watch.join()
            out["sandbox_peak_mib"] = watch.peak
        else:
            module, _, name = target.partition(":")
            extract = getattr(importlib.import_module(module), name)
            import netCDF4, rasterio, rasterio.warp, python_calamine  # imports outside the time
            start = time.perf_counter()
            answer = extract(arg["path"], str(work), options(arg["kind"]))
            out["seconds"] = time.perf_counter() - start
        out["profile_kind"] = answer["profile"].get("kind", arg.get("step"))
    elif mode == "netcdf_header":
        import netCDF4
        start = time.perf_counter()
        with netCDF4.Dataset(arg["path"]) as ds:
            attrs = {k: ds.getncattr(k) for k in ds.ncattrs()}
            for var in ds.variables.values():
                attrs[var.name] = {k: var.getncattr(k) for k in var.ncattrs()}
        out["seconds"] = time.perf_counter() - start
        out["variables"] = len(attrs)
    elif mode == "raster_header":
        import rasterio
        start = time.perf_counter()
        with rasterio.open(arg["path"]) as src:
            profile = dict(src.profile)
        out["seconds"] = time.perf_counter() - start
        out["width"] = profile["width"]
    elif mode == "openpyxl":
        import openpyxl
        start = time.perf_counter()
        book = openpyxl.load_workbook(arg["path"], read_only=True)
        rows = sum(1 for _ in book.worksheets[0].iter_rows(values_only=True))
        book.close()
        out["seconds"] = time.perf_counter() - start
        out["rows"] = rows
    elif mode == "arrow_csv":
        import pyarrow.csv as pacsv, pyarrow.parquet as pq
        start = time.perf_counter()
        table = pacsv.read_csv(arg["path"])
        pq.write_table(table, arg["out"])
        out["seconds"] = time.perf_counter() - start
        out["rows"] = table.num_rows
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["peak_mib"] = status("self", "VmHWM:")
    print(json.dumps(out))
    """
)


# ---- inputs ----------------------------------------------------------------------------


def make_netcdf(path: Path, size: int) -> None:
    import netCDF4
    import numpy as np

    lat = np.linspace(90, -90, 721, dtype="f4")
    lon = np.arange(1440, dtype="f4") * 0.25
    days = max(1, size // (721 * 1440 * 4))
    rng = np.random.default_rng(19)
    base = 288.0 - 40.0 * np.sin(np.radians(lat))[:, None] ** 2 + np.zeros((1, 1440), "f4")
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.Conventions, ds.title = "CF-1.8", "Daily near-surface air temperature (synthetic)"
        ds.institution, ds.source = "satreps-hub benchmark", "bench/ingest_formats.py"
        ds.createDimension("time", None)
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.standard_name = "days since 2000-01-01", "standard", "time"
        y = ds.createVariable("lat", "f4", ("lat",))
        y.units, y.standard_name, y[:] = "degrees_north", "latitude", lat
        x = ds.createVariable("lon", "f4", ("lon",))
        x.units, x.standard_name, x[:] = "degrees_east", "longitude", lon
        tas = ds.createVariable("tas", "f4", ("time", "lat", "lon"), chunksizes=(1, 721, 1440))
        tas.units, tas.standard_name = "K", "air_temperature"
        tas.long_name = "Near-surface air temperature"
        noise = rng.normal(0.0, 3.0, (8, 721, 1440)).astype("f4")
        for day in range(days):
            season = 10.0 * np.sin(2 * np.pi * day / 365.25) * np.sign(lat)[:, None]
            tas[day] = base + season + noise[day % 8]
            t[day] = day


def make_geotiff(path: Path, size: int) -> None:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    side = max(512, int((size / 4) ** 0.5) // 512 * 512)
    rng = np.random.default_rng(19)
    cols = np.arange(side, dtype="f4")
    profile = {
        "driver": "GTiff",
        "width": side,
        "height": side,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:32648",
        "transform": from_origin(400_000.0, 1_700_000.0, 10.0, 10.0),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "nodata": -9999.0,
        "BIGTIFF": "IF_SAFER",
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.update_tags(TIFFTAG_DATETIME="2024:03:01 10:30:00")
        for top in range(0, side, 512):
            rows = np.arange(top, top + 512, dtype="f4")[:, None]
            ground = 200.0 + 150.0 * np.sin(rows / 700.0) * np.cos(cols / 900.0)
            block = ground + rng.normal(0.0, 2.0, (512, side)).astype("f4")
            dst.write(block.astype("f4"), 1, window=((top, top + 512), (0, side)))


def make_cog(path: Path, size: int) -> None:
    """make_geotiff's raster rewritten by GDAL's COG driver (overviews, IFDs first): the
    layout the worker reads by range from S3."""
    import rasterio.shutil

    plain = path.with_suffix(".plain.tif")
    make_geotiff(plain, size)
    try:
        rasterio.shutil.copy(
            plain,
            path,
            driver="COG",
            BLOCKSIZE=512,
            OVERVIEW_RESAMPLING="AVERAGE",
            BIGTIFF="IF_SAFER",
        )
    finally:
        plain.unlink(missing_ok=True)


def make_xlsx(path: Path, csv: Path, rows: int) -> None:
    import datetime as dt
    import random

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("levels")
    head = ["id", "station", "date", "level_m", "rain_mm", "quality"]
    sheet.append(head)
    draw = random.Random(19)
    start = dt.date(2020, 1, 1)
    with csv.open("w") as out:
        out.write(",".join(head) + "\n")
        for i in range(rows):
            row = [
                i,
                f"ST-{i % 997:04d}",
                start + dt.timedelta(days=i % 1500),
                round(draw.gauss(3.0, 0.8), 3),
                round(draw.expovariate(0.2), 1),
                ("good", "good", "suspect", "missing")[i % 4],
            ]
            sheet.append(row)
            out.write(",".join(str(v) for v in row) + "\n")
    book.save(path)


# ---- the rows --------------------------------------------------------------------------


async def measure(
    bench: Bench, mode: str, arg: dict[str, Any], runs: int = 1, **env: str
) -> dict[str, Any]:
    environ = bench.env() | env
    results = [await child(mode, arg, environ, bench.tmp, CHILD) for _ in range(runs)]
    return min(results, key=lambda r: r["seconds"])


async def pipeline_row(
    bench: Bench, path: Path, label: str, work_dir: str | None = None
) -> dict[str, float]:
    size = (await asyncio.to_thread(path.stat)).st_size
    started = time.perf_counter()
    upload_id, key, sha = await queued_upload(bench, path.name, path)
    say(
        f"  {label}: PUT {size / 1e6:.0f} MB at {size / 1e6 / (time.perf_counter() - started):.0f} MB/s"
    )
    get_arg = {
        "endpoint": bench.s3.endpoint,
        "access_key": bench.s3.access_key,
        "secret_key": bench.s3.secret_key,
        "region": bench.s3.region,
        "bucket": bench.store.buckets.raw,
        "key": key,
    }
    env, cwd = bench.env(), bench.tmp
    gets = [await child("get_sha256", get_arg, env, cwd)]
    ours = await measure(
        bench, "pipeline", {"upload_id": upload_id, "warm_dir": str(bench.tmp / "warm")}
    )
    if work_dir:  # the same bytes again, the workers' scratch directory elsewhere
        again, _, _ = await queued_upload(bench, f"{path.stem}-again{path.suffix}", path)
        elsewhere = await measure(
            bench,
            "pipeline",
            {"upload_id": again, "warm_dir": str(bench.tmp / "warm")},
            SATREPS_WORK_DIR=work_dir,
        )
    gets.append(await child("get_sha256", get_arg, env, cwd))
    if ours.get("outcome") != "ready":
        raise RuntimeError(f"pipeline ended {ours.get('outcome')!r} for {label}")
    for got in gets:
        assert got["sha256"] == sha and got["bytes"] == size, got
    get = min(gets, key=lambda g: g["seconds"])
    ratio = get["seconds"] / ours["seconds"]
    say(
        f"  {label}: pipeline {size / 1e6 / ours['seconds']:.0f} MB/s ({ours['seconds']:.2f} s),"
        f" GET+sha256 {size / 1e6 / get['seconds']:.0f} MB/s ({get['seconds']:.2f} s):"
        f" {ratio:.2f}x (target >= {TARGET_PIPELINE}) {_verdict(ratio >= TARGET_PIPELINE)};"
        f" worker peak RSS {ours['peak_mib']:.0f} MiB (target <= {TARGET_RSS:.0f})"
        f" {_verdict(ours['peak_mib'] <= TARGET_RSS)}"
    )
    if work_dir:
        other = get["seconds"] / elsewhere["seconds"]
        say(
            f"  {label}: pipeline with SATREPS_WORK_DIR={work_dir}"
            f" {size / 1e6 / elsewhere['seconds']:.0f} MB/s ({elsewhere['seconds']:.2f} s):"
            f" {other:.2f}x GET+sha256; worker peak RSS {elsewhere['peak_mib']:.0f} MiB"
        )
    return {"seconds": ours["seconds"], "ratio": ratio, "peak": ours["peak_mib"]}


async def extraction_row(bench: Bench, path: Path, kind: str, header: str, label: str) -> None:
    arg = {"path": str(path), "kind": kind, "workdir": str(bench.tmp / f"extract-{kind}")}
    boxed = await measure(bench, "sandbox", arg, runs=3)
    bare = await measure(bench, "inprocess", arg, runs=3)
    theirs = await measure(bench, header, {"path": str(path)}, runs=3)
    ratio = boxed["seconds"] / theirs["seconds"]
    say(
        f"  {label} metadata: extractor in the sandbox {boxed['seconds'] * 1000:.1f} ms"
        f" (child peak {boxed['sandbox_peak_mib']:.0f} MiB), in-process"
        f" {bare['seconds'] * 1000:.1f} ms, {header} {theirs['seconds'] * 1000:.1f} ms:"
        f" {ratio:.2f}x (target <= {TARGET_EXTRACT}) {_verdict(ratio <= TARGET_EXTRACT)}"
    )
    if kind == "tiff":  # the second step: the pixels (statistics and quicklook)
        pixels = await measure(bench, "sandbox", {**arg, "step": "pixels"}, runs=3)
        say(
            f"  {label} pixels (band statistics from a sample of at most a million pixels,"
            f" the quicklook): {pixels['seconds'] * 1000:.1f} ms in the sandbox (child peak"
            f" {pixels['sandbox_peak_mib']:.0f} MiB)"
        )


async def xlsx_row(bench: Bench, rows: int) -> None:
    book, csv = bench.tmp / "levels.xlsx", bench.tmp / "levels.csv"
    started = time.perf_counter()
    await asyncio.to_thread(make_xlsx, book, csv, rows)
    say(
        f"  xlsx: {rows} rows x 6 columns written ({book.stat().st_size / 1e6:.1f} MB xlsx,"
        f" {csv.stat().st_size / 1e6:.1f} MB csv) in {time.perf_counter() - started:.0f} s"
    )
    try:
        upload_id, _, _ = await queued_upload(bench, book.name, book)
        warm = str(bench.tmp / "warm")
        ours = await measure(bench, "pipeline", {"upload_id": upload_id, "warm_dir": warm})
        if ours.get("outcome") != "ready":
            raise RuntimeError(f"pipeline ended {ours.get('outcome')!r} for the xlsx")
        arg = {"path": str(book), "kind": "xlsx", "workdir": str(bench.tmp / "extract-xlsx")}
        boxed = await measure(bench, "sandbox", arg, runs=2)
        opx = await measure(bench, "openpyxl", {"path": str(book)})
        parquet = bench.tmp / "levels.parquet"
        arrow = await measure(bench, "arrow_csv", {"path": str(csv), "out": str(parquet)}, runs=2)
        assert opx["rows"] == rows + 1 and arrow["rows"] == rows, (opx, arrow)
        say(
            f"  xlsx: pipeline {ours['seconds']:.2f} s (worker peak {ours['peak_mib']:.0f} MiB),"
            f" extraction in the sandbox {boxed['seconds']:.2f} s (child peak"
            f" {boxed['sandbox_peak_mib']:.0f} MiB); openpyxl read-only {opx['seconds']:.2f} s"
            f" (the pipeline {opx['seconds'] / ours['seconds']:.2f}x its speed), pyarrow CSV ->"
            f" Parquet {arrow['seconds']:.2f} s ({arrow['seconds'] / ours['seconds']:.2f}x)"
        )
    finally:
        book.unlink(missing_ok=True)
        csv.unlink(missing_ok=True)


async def formats_run(
    url: str,
    s3: Any,
    tmp: Path,
    mib: int,
    xlsx_rows: int,
    work_dir: str | None = None,
    rows: set[str] | None = None,
) -> None:
    from ingest_setup import close_bench, open_bench

    bench = await open_bench(url, s3, tmp)
    try:
        await formats_part(bench, mib, xlsx_rows, work_dir, rows)
    finally:
        await close_bench(bench)


def _verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


async def formats_part(
    bench: Bench,
    mib: int,
    xlsx_rows: int,
    work_dir: str | None = None,
    rows: set[str] | None = None,
) -> None:
    for label, suffix, make, kind, header in (
        ("netcdf4", "nc", make_netcdf, "netcdf", "netcdf_header"),
        ("geotiff", "tif", make_geotiff, "tiff", "raster_header"),
        ("cog", "tif", make_cog, "tiff", "raster_header"),
    ):
        if rows is not None and label not in rows:
            continue
        path = bench.tmp / f"bench-{label}-{mib}.{suffix}"
        started = time.perf_counter()
        await asyncio.to_thread(make, path, mib * MiB)
        say(
            f"  {label} {mib} MiB: written {path.stat().st_size / 1e6:.0f} MB in"
            f" {time.perf_counter() - started:.0f} s"
        )
        try:
            await pipeline_row(bench, path, f"{label} {mib} MiB", work_dir)
            await extraction_row(bench, path, kind, header, f"{label} {mib} MiB")
        finally:
            path.unlink(missing_ok=True)
    if rows is None or "xlsx" in rows:
        await xlsx_row(bench, xlsx_rows)
