"""Background jobs by name: arq (Redis) in production, an in-process runner when embedded.

The API never imports a job: it asks for one by name, after its transaction committed (a
worker must never look for a row that is not there yet). The database stays the truth of
every job's state; the queue only carries ids, and the reconciler re-enqueues what the
database says is waiting, so a lost queue loses nothing. arq is in maintenance mode, so
every use of it stays behind this module and `workers/`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from server.core.config import DEFAULT_REDIS_PREFIX

log = logging.getLogger(__name__)
PROCESS_UPLOAD = "process_upload"  # the name the API asks for; workers/jobs.py maps it
# (upload_ids,): small uploads of one version in one job, transaction and PROV activity
PROCESS_BATCH = "process_batch"
FIXITY_CHECK = "fixity_check"  # (version_id, run_id): re-hash a version's raw objects
WRITE_PROVENANCE = "write_provenance"  # (version_id[, quiet_since]): PROV + RO-Crate copies
JobFunction = Callable[..., Awaitable[Any]]


class JobQueue(Protocol):
    async def enqueue(self, name: str, *args: Any, job_id: str, defer_seconds: float = 0.0) -> bool:
        """Queue `name(*args)` to start no sooner than `defer_seconds` from now; False when a
        job with this id is already queued or running."""
        ...

    async def close(self) -> None: ...


class InProcessJobs:
    """Runs the same job functions as the workers, as tasks of this process (embedded mode).

    `functions` maps job names to coroutine functions taking (ctx, *args), like arq's.
    Concurrency is bounded; job ids de-duplicate while a job is pending or running.
    """

    def __init__(
        self,
        functions: Mapping[str, JobFunction],
        *,
        ctx: Mapping[str, Any] | None = None,
        concurrency: int = 2,
        autostart: bool = True,
    ) -> None:
        self._functions = dict(functions)
        self._ctx: Mapping[str, Any] = ctx if ctx is not None else {}
        self._slots = asyncio.Semaphore(concurrency)
        self._active: dict[str, asyncio.Task[Any]] = {}
        self._held: dict[str, tuple[str, tuple[Any, ...], float]] = {}
        self._autostart = autostart  # False: jobs wait for drain() (deterministic tests)

    async def enqueue(self, name: str, *args: Any, job_id: str, defer_seconds: float = 0.0) -> bool:
        if name not in self._functions:
            raise KeyError(f"no job named {name!r}")
        if job_id in self._active or job_id in self._held:
            return False
        if self._autostart:
            self._start(name, args, job_id, defer_seconds)
        else:
            self._held[job_id] = (name, args, defer_seconds)
        return True

    def _start(self, name: str, args: tuple[Any, ...], job_id: str, defer: float = 0.0) -> None:
        self._active[job_id] = asyncio.create_task(
            self._run(name, args, job_id, defer), name=job_id
        )

    async def _run(self, name: str, args: tuple[Any, ...], job_id: str, defer: float) -> None:
        try:
            if defer > 0:
                await asyncio.sleep(defer)
            async with self._slots:
                # "jobs": a job may queue follow-ups, as arq's ctx["redis"] lets it
                await self._functions[name]({**self._ctx, "jobs": self, "job_id": job_id}, *args)
        except Exception:  # the job records its own outcome in the database
            log.exception("job %s failed", job_id)
        finally:
            self._active.pop(job_id, None)

    async def drain(self) -> None:
        """Start held jobs and wait for every queued and running job (tests, shutdown)."""
        while self._held or self._active:
            held, self._held = self._held, {}
            for job_id, (name, args, defer) in held.items():
                self._start(name, args, job_id, defer)
            await asyncio.gather(*list(self._active.values()), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()


class ArqJobs:
    """Enqueues into Redis for `satreps worker` processes (arq)."""

    def __init__(
        self, redis_url: str, *, prefix: str = DEFAULT_REDIS_PREFIX, queue_name: str | None = None
    ) -> None:
        """Jobs of the deployment named by `prefix` (Settings.redis_prefix): its queue
        (`<prefix>queue` unless given) and its job ids (`<prefix><id>`: arq's own keys,
        arq:job:<id> and the like, then differ between deployments too)."""
        self._redis_url = redis_url
        self._prefix = prefix
        self._queue_name = queue_name or prefix + "queue"
        self._pool: Any = None

    async def _connect(self) -> Any:
        if self._pool is None:
            from arq import create_pool
            from arq.connections import RedisSettings

            self._pool = await create_pool(
                RedisSettings.from_dsn(self._redis_url), default_queue_name=self._queue_name
            )
        return self._pool

    async def enqueue(self, name: str, *args: Any, job_id: str, defer_seconds: float = 0.0) -> bool:
        pool = await self._connect()
        job = await pool.enqueue_job(
            name,
            *args,
            _job_id=self._prefix + job_id,
            _queue_name=self._queue_name,
            _defer_by=defer_seconds if defer_seconds > 0 else None,
        )
        return job is not None

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None
