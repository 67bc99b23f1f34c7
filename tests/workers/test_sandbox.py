"""Native extractors run in a limited child process (workers/processing/sandbox.py): a crash,
a hang or a blow-up is a FAILED upload with its own code, never a dead worker. The faults are
real (tests/fixtures/extractors.py): SIGSEGV, abort(), an endless loop, a sleep, an
allocation past RLIMIT_AS."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from workers.processing import ErrorCode, Limits, ProcessingError, sandbox
from workers.processing.sandbox import run_extractor

FAULTS = "tests.fixtures.extractors"
QUICK = Limits(extractor_cpu_seconds=1, extractor_wall_seconds=20.0)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "sample.bin"
    path.write_bytes(b"CDF\x01" + bytes(60))
    return path


def still_works(sample: Path, tmp_path: Path) -> None:
    answer = run_extractor(f"{FAULTS}:echo", sample, tmp_path, QUICK, {"n": 1})
    assert answer["head"] == "43444601" + "00" * 12 and answer["options"] == {"n": 1}
    assert answer["pid"] != os.getpid()


def test_an_extractor_answers_from_its_own_process(sample: Path, tmp_path: Path) -> None:
    still_works(sample, tmp_path)


@pytest.mark.parametrize(
    ("fault", "limits", "code", "said"),
    [
        ("segfault", QUICK, ErrorCode.EXTRACTOR_CRASHED, "SIGSEGV"),
        ("abort", QUICK, ErrorCode.EXTRACTOR_CRASHED, "SIGABRT"),
        ("spin", QUICK, ErrorCode.EXTRACTOR_TIMEOUT, "CPU"),
        ("sleep", Limits(extractor_wall_seconds=1.0), ErrorCode.EXTRACTOR_TIMEOUT, "within 1 s"),
        ("hog", Limits(extractor_memory_bytes=768 * 1024**2), ErrorCode.TOO_COMPLEX, "Memory"),
        ("refuse", QUICK, ErrorCode.UNREADABLE, "not a file this reader knows"),
        ("chatter", Limits(extractor_max_result_bytes=1024**2), ErrorCode.TOO_COMPLEX, "answer"),
    ],
)
def test_a_misbehaving_extractor_is_a_code_and_the_next_one_runs(
    sample: Path, tmp_path: Path, fault: str, limits: Limits, code: ErrorCode, said: str
) -> None:
    with pytest.raises(ProcessingError) as info:
        run_extractor(f"{FAULTS}:{fault}", sample, tmp_path, limits)
    assert info.value.code == code, info.value
    assert said in info.value.message
    still_works(sample, tmp_path)  # this process, the "worker", goes on


def test_an_unknown_extractor_is_our_bug_not_the_file(sample: Path, tmp_path: Path) -> None:
    with pytest.raises(ProcessingError) as info:
        run_extractor(f"{FAULTS}:no_such_function", sample, tmp_path, QUICK)
    assert info.value.code == ErrorCode.EXTRACTOR_CRASHED
    assert "exited with status 1" in info.value.message


def test_each_file_gets_a_fresh_child(sample: Path, tmp_path: Path) -> None:
    """The spare child forked ahead of need serves one job and leaves: no state of one
    file's reader (a corrupted heap, a library's cache) reaches the next file."""
    pids = [run_extractor(f"{FAULTS}:echo", sample, tmp_path, QUICK)["pid"] for _ in range(4)]
    assert len(set(pids)) == 4 and os.getpid() not in pids


def test_a_spare_killed_while_it_waits_is_replaced(sample: Path, tmp_path: Path) -> None:
    still_works(sample, tmp_path)  # leaves a spare forked behind it
    deadline = time.monotonic() + 20
    while (spare := sandbox._spare) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spare is not None, "no spare child was forked ahead of need"
    os.kill(spare[0].pid, signal.SIGKILL)  # an operator, the OOM killer...
    spare[0].join(5)
    still_works(sample, tmp_path)
    # and one that dies between the check and the job's hand-over
    while (spare := sandbox._spare) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spare is not None
    spare[1].close()  # its job pipe breaks: the job goes to a freshly forked child
    still_works(sample, tmp_path)
