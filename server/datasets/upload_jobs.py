"""Which job processes a QUEUED upload (issue 23): the small uploads of one version
together, up to `upload_batch_files` and `upload_batch_max_bytes` bytes a job
(`process_batch`, one transaction and one PROV activity for them all), an upload over
`upload_batch_max_bytes` alone (`process_upload`).

The database stays the truth: each upload keeps its own state and lease, a batch job only
names its uploads, and the reconciler queues whatever the database says is waiting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

from server.core.jobs import PROCESS_BATCH, PROCESS_UPLOAD


class Waiting(NamedTuple):
    """A QUEUED upload as the planner needs it."""

    id: int
    version_id: int
    size: int
    attempts: int


@dataclass(frozen=True)
class JobRequest:
    name: str
    args: tuple[Any, ...]
    job_id: str


def upload_job_id(upload_id: int, attempts: int) -> str:
    return f"{PROCESS_UPLOAD}:{upload_id}:{attempts}"


def batch_job_id(uploads: Sequence[Waiting]) -> str:
    """The same uploads at the same attempts make the same id (a job queued twice runs once)."""
    named = ",".join(f"{u.id}:{u.attempts}" for u in sorted(uploads))
    digest = hashlib.sha256(named.encode()).hexdigest()[:16]
    return f"{PROCESS_BATCH}:{min(u.id for u in uploads)}:{digest}"


def plan_jobs(uploads: Iterable[Waiting], *, max_bytes: int, per_batch: int) -> list[JobRequest]:
    """The jobs for these uploads: batches of one version's small uploads, in id order, and
    one job per large upload (or per small one left alone in its batch)."""
    jobs: list[JobRequest] = []
    small: dict[int, list[Waiting]] = {}
    for upload in sorted(uploads):
        if 0 < max_bytes and upload.size <= max_bytes:
            small.setdefault(upload.version_id, []).append(upload)
        else:
            jobs.append(_alone(upload))
    for group in small.values():
        for chunk in sized_runs(group, per_batch, max_bytes):
            if len(chunk) == 1:
                jobs.append(_alone(chunk[0]))
            else:
                ids = [u.id for u in chunk]
                jobs.append(JobRequest(PROCESS_BATCH, (ids,), batch_job_id(chunk)))
    return jobs


class Sized(Protocol):
    @property
    def size(self) -> int: ...


S = TypeVar("S", bound=Sized)


def sized_runs(items: Iterable[S], most: int, most_bytes: int) -> Iterator[list[S]]:
    """Runs of at most `most` items and `most_bytes` bytes, in order (an item bigger than
    that goes alone): a batch reads no more than one large file would, and a client's chunk
    of big files is completed while the next one goes."""
    run: list[S] = []
    held = 0
    for item in items:
        if run and (len(run) == most or held + item.size > most_bytes):
            yield run
            run, held = [], 0
        run.append(item)
        held += item.size
    if run:
        yield run


def _alone(upload: Waiting) -> JobRequest:
    return JobRequest(PROCESS_UPLOAD, (upload.id,), upload_job_id(upload.id, upload.attempts))
