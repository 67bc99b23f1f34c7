"""Native extractors (libnetcdf, HDF5, calamine, GDAL, ...) run in a child process.

These libraries are native code reading files from the internet: a crafted file can crash
them (SIGSEGV, abort), make them spin, or make them allocate without end. Each extraction
runs in a process of its own, forked from a `forkserver` (never from the worker itself,
whose threads and open connections a fork would copy), under limits it sets on itself
before it reads a byte:

- RLIMIT_CPU (`Limits.extractor_cpu_seconds`): SIGXCPU at the soft limit, SIGKILL soon after;
- RLIMIT_AS (`Limits.extractor_memory_bytes`): allocations past it fail (MemoryError);
- no core dumps (RLIMIT_CORE 0);
- a wall clock in the parent (`Limits.extractor_wall_seconds`): SIGKILL when it runs out.

The extractor is named `"module:function"`, called as `function(path, workdir, options)`,
and returns a JSON-able dict, which comes back through a pipe as JSON text (at most
`Limits.extractor_max_result_bytes`). The outcome is a dict or a `ProcessingError`:
`EXTRACTOR_CRASHED` (a signal or an exit without an answer), `EXTRACTOR_TIMEOUT` (CPU or
wall clock), `TOO_COMPLEX` (memory, recursion, an answer too big), or the extractor's own
code (a `ProcessingError` raised in the child: UNREADABLE for a corrupt file, ...).
The worker, its event loop and its other jobs never share the child's fate.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import multiprocessing
import os
import resource
import signal
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from server.models.enums import UploadWarningCode

from .model import ErrorCode, Limits, ProcessingError

Extractor = Callable[[str, str, dict[str, Any]], dict[str, Any]]
_MAX_LIBRARY_WARNINGS = 10
_CPU_GRACE = 2  # seconds between SIGXCPU (soft limit) and SIGKILL (hard limit)


# imported once by the fork server, so a child starts with them loaded (about 2 s of imports
# per extraction otherwise); they read nothing at import time
PRELOAD = [
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
    "cftime",
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
    path: Path,
    workdir: Path,
    limits: Limits,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `target` on `path` in a limited child process; its dict, or ProcessingError."""
    ctx = _context()
    receive, send = ctx.Pipe(duplex=False)
    args = (send, target, str(path), str(workdir), options or {}, _rlimits(limits))
    child = ctx.Process(target=_child, args=args, name=f"extract:{target}", daemon=True)
    child.start()
    send.close()
    try:
        answer = _wait(child, receive, limits)
    finally:
        receive.close()
        if child.is_alive():
            child.kill()
        child.join()
        child.close()
    return _outcome(target, answer, limits)


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
    cpu = rlimits["cpu"]
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + _CPU_GRACE))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = rlimits["memory"]
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
