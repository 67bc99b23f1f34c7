"""Native extractors (libnetcdf, HDF5, calamine, GDAL, ...) run in a child process.

These libraries are native code reading files from the internet: a crafted file can crash
them (SIGSEGV, abort), make them spin, or make them allocate without end. Each extraction
runs in a process of its own, forked from a `forkserver` (never from the worker itself,
whose threads and open connections a fork would copy), under limits it sets on itself
before it reads a byte. The child is forked ahead of need and waits for its one job (the
fork and the child's start-up stay off the extraction's time); it never serves a second file.
The limits:

- RLIMIT_CPU (`Limits.extractor_cpu_seconds`): SIGXCPU at the soft limit, SIGKILL soon after;
- RLIMIT_AS (`Limits.extractor_memory_bytes`): allocations past it fail (MemoryError);
- no core dumps (RLIMIT_CORE 0);
- a wall clock in the parent (`Limits.extractor_wall_seconds`): SIGKILL when it runs out.

The extractor is named `"module:function"`, called as `function(path, workdir, options)`,
and returns a JSON-able dict, which comes back through a pipe as JSON text (at most
`Limits.extractor_max_result_bytes`). The outcome is a dict or a `ProcessingError`:
`EXTRACTOR_CRASHED` (a signal or an exit without an answer), `EXTRACTOR_TIMEOUT` (CPU or
wall clock), `TOO_COMPLEX` (memory, recursion, an answer too big), or the extractor's own
code (a `ProcessingError` raised in the child: UNREADABLE for a corrupt file, ...), or
`StoreUnavailable` (transient: the upload is retried) when an extractor reading the object by
range (formats/remote.py) could not get its bytes from the store.
The worker, its event loop and its other jobs never share the child's fate.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib
import json
import math
import multiprocessing
import os
import resource
import signal
import threading
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from server.models.enums import UploadWarningCode
from server.storage.errors import StoreUnavailable

from .formats.remote import RemoteUnavailable
from .model import ErrorCode, Limits, ProcessingError

Extractor = Callable[[str, str, dict[str, Any]], dict[str, Any]]
_Child = tuple[Any, Connection, Connection]  # the process, its job pipe, its answer pipe
_MAX_LIBRARY_WARNINGS = 10
_CPU_GRACE = 2  # seconds between SIGXCPU (soft limit) and SIGKILL (hard limit)


# imported once by the fork server, so a child starts with them loaded (about 2 s of imports
# per extraction otherwise); they read nothing at import time
# "__main__" first: a console script's module (`satreps worker`) is imported by the server
# once, not again in every child (multiprocessing's spawn preparation would re-run it)
PRELOAD = [
    "__main__",
    "workers.processing.formats.gridded",
    "workers.processing.formats.spreadsheet",
    "workers.processing.formats.raster",
    "rasterio",
    "rasterio.warp",
    "workers.processing.formats.vector",
    "pyogrio",
    "workers.processing.formats.sequence",
    "pysam",
    "workers.processing.formats.seismic",
    "obspy",
    "obspy.io.mseed.core",
    "obspy.io.sac.core",
    "workers.processing.formats.image",
    "PIL.Image",
    "PIL.ImageOps",
    "workers.processing.formats.pdf",
    "pypdf",
    "netCDF4",
    "h5py",
    "h5netcdf.legacyapi",
    "urllib3",
    "cftime",
    "workers.processing.frozen",  # last
]
_THREAD_POOLS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@functools.cache
def _context() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    # the fork server inherits this environment when it starts: one thread per math library,
    # so it forks without thread pools (this process's own pools started long ago)
    for var in _THREAD_POOLS:
        os.environ.setdefault(var, "1")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def run_extractor(
    target: str,
    path: Path | str,
    workdir: Path,
    limits: Limits,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `target` on `path` (a file, or a URL for a ranged reader) in a limited child
    process; its dict, or ProcessingError (StoreUnavailable when a ranged read failed)."""
    job = (target, str(path), str(workdir), options or {}, _rlimits(limits))
    child, jobs, receive = _take_spare()
    try:
        try:
            jobs.send(job)
        except OSError:  # the spare died waiting (killed from outside): a fresh child
            _discard((child, jobs, receive))
            child, jobs, receive = _fork()
            jobs.send(job)
        answer = _wait(child, receive, limits)
    except BaseException:
        child.kill()
        _reap(child)
        raise
    finally:
        jobs.close()
        receive.close()
    if answer[0] == "answer":  # it is leaving (os._exit): reaped off the caller's time
        threading.Thread(target=child.join, name="extract-reaper", daemon=True).start()
    else:
        _reap(child)
    # the next spare is forked now, not while this one worked: a fork beside the extraction
    # took CPU from it
    threading.Thread(target=_refill, name="extract-spare", daemon=True).start()
    return _outcome(target, answer, limits)


# One child is forked ahead of need and waits for its job: an extraction does not wait for
# the fork server's fork and the child's start-up (~7 ms here), only for its own work.
_spare_lock = threading.Lock()
_spare: _Child | None = None


def _fork() -> _Child:
    ctx = _context()
    jobs_out, jobs_in = ctx.Pipe(duplex=False)
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_waiting, args=(jobs_out, send), name="extract", daemon=True)
    child.start()
    jobs_out.close()
    send.close()
    return child, jobs_in, receive


def _take_spare() -> _Child:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is None or not spare[0].is_alive() or spare[0].pid is None:
        if spare is not None:
            _discard(spare)
        spare = _fork()
    return spare


def _refill() -> None:
    global _spare
    try:
        fresh = _fork()
    except Exception:  # noqa: BLE001 - the next extraction forks for itself
        return
    with _spare_lock:
        taken = _spare is None
        if taken:
            _spare = fresh
    if not taken:  # another thread refilled first
        _discard(fresh)


def _discard(spare: _Child) -> None:
    child, jobs, receive = spare
    jobs.close()  # a waiting child reads EOF and leaves
    receive.close()
    _reap(child)


def _reap(child: Any) -> None:
    # not close()d: multiprocessing's exit handler may be joining it from another thread;
    # the process object's finaliser closes its sentinel
    child.join(1.0)
    if child.is_alive():
        child.kill()
        child.join()


def _rlimits(limits: Limits) -> dict[str, int]:
    return {"cpu": limits.extractor_cpu_seconds, "memory": limits.extractor_memory_bytes}


def _wait(child: Any, receive: Connection, limits: Limits) -> tuple[str, Any]:
    deadline = time.monotonic() + limits.extractor_wall_seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            child.kill()
            return ("timeout", f"no answer within {limits.extractor_wall_seconds:g} s")
        if receive.poll(min(left, 0.5)):
            try:
                body = receive.recv_bytes(limits.extractor_max_result_bytes)
            except EOFError:  # the child died: its exit code says how
                child.join()
                return ("died", child.exitcode)
            except OSError:  # the answer is longer than the cap
                return ("too_big", limits.extractor_max_result_bytes)
            return ("answer", body)
        if not child.is_alive() and not receive.poll(0):
            return ("died", child.exitcode)


def _outcome(target: str, answer: tuple[str, Any], limits: Limits) -> dict[str, Any]:
    kind, value = answer
    if kind == "timeout":
        raise ProcessingError(ErrorCode.EXTRACTOR_TIMEOUT, f"{_name(target)}: {value}")
    if kind == "too_big":
        raise ProcessingError(ErrorCode.TOO_COMPLEX, f"{_name(target)}: answer over {value} bytes")
    if kind == "died":
        raise _death(target, value, limits)
    reply = json.loads(value)
    if reply["ok"]:
        return cast(dict[str, Any], reply["result"])
    if reply.get("transient"):
        raise StoreUnavailable(f"{_name(target)}: {reply['message']}")
    raise ProcessingError(ErrorCode(reply["code"]), reply["message"])


def _death(target: str, exitcode: int | None, limits: Limits) -> ProcessingError:
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode)
        if sig in (signal.SIGXCPU, signal.SIGKILL):
            return ProcessingError(
                ErrorCode.EXTRACTOR_TIMEOUT,
                f"{_name(target)}: more than {limits.extractor_cpu_seconds} s of CPU ({sig.name})",
            )
        return ProcessingError(
            ErrorCode.EXTRACTOR_CRASHED, f"{_name(target)} crashed on this file ({sig.name})"
        )
    return ProcessingError(
        ErrorCode.EXTRACTOR_CRASHED, f"{_name(target)} exited with status {exitcode} on this file"
    )


def _name(target: str) -> str:
    return target.rsplit(":", 1)[-1]


def _waiting(jobs: Connection, send: Connection) -> None:
    """The spare child: waits for its one job, runs it, leaves without interpreter teardown
    (its modules' finalisers would only cost time). EOF on the job pipe: not needed."""
    _warm_heap()
    try:
        job = jobs.recv()
    except EOFError:
        os._exit(0)
    jobs.close()
    _child(send, *job)
    os._exit(0)


# the spare's heap, made ready while it waits: a reader's allocations (HDF5's chunk cache,
# numpy arrays, GDAL's block cache) then reuse pages already mapped instead of faulting fresh
# ones in. A page fault costs microseconds in this VM: a NetCDF-4 header read took ~3,000 of
# them (~9 ms) in a fresh child, ~700 with 16 MiB ready
_WARM_HEAP = 16 << 20
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt(3)


def _warm_heap() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc.restype = ctypes.c_void_p
        libc.malloc.argtypes = [ctypes.c_size_t]
        libc.free.argtypes = [ctypes.c_void_p]
        # one child, one file, then exit: the heap need never shrink, and buffers up to
        # 32 MiB (glibc's most) come from it rather than from fresh mappings
        libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
        libc.mallopt(_M_TOP_PAD, 0)
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        block = libc.malloc(_WARM_HEAP)
        if block:
            ctypes.memset(block, 0, _WARM_HEAP)
            libc.free(block)


def _child(
    send: Connection,
    target: str,
    path: str,
    workdir: str,
    options: dict[str, Any],
    rlimits: dict[str, int],
) -> None:
    _limit_self(rlimits)
    module, _, name = target.partition(":")
    # outside the try: a missing extractor is our bug, an exit without an answer (CRASHED)
    extract = cast(Extractor, getattr(importlib.import_module(module), name))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = extract(path, workdir, options)
        result.setdefault("warnings", []).extend(_library_warnings(caught))
        reply: dict[str, Any] = {"ok": True, "result": result}
        body = json.dumps(reply, ensure_ascii=False, allow_nan=False, default=str)
    except ProcessingError as error:
        body = _error(error.code, error.message)
    except RemoteUnavailable as error:  # the object store's fault, not the file's: retried
        body = json.dumps({"ok": False, "transient": True, "message": str(error)[:500]})
    except (MemoryError, RecursionError) as error:
        body = _error(ErrorCode.TOO_COMPLEX, f"{type(error).__name__}: more than the limits allow")
    except Exception as error:  # noqa: BLE001 - a library refusing a corrupt file
        body = _error(ErrorCode.UNREADABLE, f"{type(error).__name__}: {str(error)[:500]}")
    try:
        send.send_bytes(body.encode())
    except MemoryError:
        os._exit(3)
    finally:
        send.close()


def _library_warnings(caught: list[warnings.WarningMessage]) -> list[dict[str, str]]:
    """What the reader library warned about this file (GDAL converting a geometry type,
    ...), once each, at most `_MAX_LIBRARY_WARNINGS`."""
    messages = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    code = UploadWarningCode.READER_WARNING.value
    return [{"code": code, "message": m[:500]} for m in messages[:_MAX_LIBRARY_WARNINGS]]


def _error(code: ErrorCode, message: str) -> str:
    return json.dumps({"ok": False, "code": str(code), "message": message})


def _limit_self(rlimits: dict[str, int]) -> None:
    # RLIMIT_CPU counts the process's whole life: its start-up before the job counts too
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = rlimits["cpu"] + math.ceil(usage.ru_utime + usage.ru_stime)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + _CPU_GRACE))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = rlimits["memory"]
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
