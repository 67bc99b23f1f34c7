"""CPU seconds spent by each kind of process on the machine during a step, from /proc.

    with cpu_use() as used:
        ...
    say(used.line())   # "cpu-s: weed 8.1, worker 3.2, ..., sum 21.0 of 2 CPUs x 11.0 s"

A process's figure is its user and system time plus that of its children it has reaped
(so PostgreSQL's backends, reaped by the postmaster, are counted), taken before and after;
a process that starts during the step counts from zero. The kinds are told apart by the
command line. Linux only (bench-only code).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

HZ = os.sysconf("SC_CLK_TCK")
KINDS = (
    ("weed", "weed"),
    ("worker", "satreps worker"),
    ("serve", "satreps serve"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)


def kind_of(pid: int, command: str) -> str | None:
    if pid == os.getpid():
        return "client"
    for kind, needle in KINDS:
        if needle in command:
            return kind
    return None


def snapshot() -> dict[int, tuple[str, float]]:
    """Every classified process: its kind and its CPU seconds so far (children included).
    A process of no kind of its own takes its parent's (`satreps serve`'s spawned server
    processes)."""
    found: dict[int, tuple[int, str | None, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                command = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        found[pid] = (int(fields[1]), kind_of(pid, command), ticks / HZ)
    seen: dict[int, tuple[str, float]] = {}
    for pid, (parent, kind, seconds) in found.items():
        while kind is None and parent in found:
            parent, kind = found[parent][0], found[parent][1]
        if kind is not None:
            seen[pid] = (kind, seconds)
    return seen


@dataclass
class CpuUse:
    seconds: float = 0.0
    by_kind: dict[str, float] = field(default_factory=dict)

    def line(self) -> str:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(self.by_kind.items(), key=_most))
        total = sum(self.by_kind.values())
        return (
            f"cpu-s: {parts}; sum {total:.1f} of {os.cpu_count()} CPUs x {self.seconds:.1f} s"
            f" ({total / max(self.seconds, 1e-9) / (os.cpu_count() or 1):.0%} busy)"
        )


def _most(item: tuple[str, float]) -> float:
    return -item[1]


@contextmanager
def cpu_use() -> Iterator[CpuUse]:
    used = CpuUse()
    before = snapshot()
    started = time.perf_counter()
    try:
        yield used
    finally:
        used.seconds = time.perf_counter() - started
        for pid, (kind, now) in snapshot().items():
            was = before.get(pid)
            spent = now - (was[1] if was and was[0] == kind else 0.0)
            used.by_kind[kind] = used.by_kind.get(kind, 0.0) + max(spent, 0.0)
