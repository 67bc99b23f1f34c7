"""Jobs by name: the in-process runner and arq on a real Redis, with the same functions."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from arq.worker import Worker

from server.core.jobs import ArqJobs, InProcessJobs

REDIS_URL = "redis://127.0.0.1:6379/0"


async def record(ctx, value, seen):  # a job function: (ctx, *args), like arq's
    await asyncio.sleep(0.01)
    seen.append((ctx["job_id"], value))


async def test_in_process_runner_runs_and_deduplicates():
    seen: list = []
    jobs = InProcessJobs({"record": record})
    assert await jobs.enqueue("record", 1, seen, job_id="a")
    assert not await jobs.enqueue("record", 1, seen, job_id="a")  # still pending
    assert await jobs.enqueue("record", 2, seen, job_id="b")
    await jobs.drain()
    assert sorted(seen) == [("a", 1), ("b", 2)]
    assert await jobs.enqueue("record", 3, seen, job_id="a")  # done: may run again
    await jobs.close()
    assert ("a", 3) in seen


async def test_in_process_runner_survives_a_failing_job():
    async def boom(ctx):
        raise RuntimeError("boom")

    seen: list = []
    jobs = InProcessJobs({"boom": boom, "record": record})
    await jobs.enqueue("boom", job_id="x")
    await jobs.enqueue("record", 1, seen, job_id="y")
    await jobs.drain()
    assert seen == [("y", 1)]
    with pytest.raises(KeyError):
        await jobs.enqueue("missing", job_id="z")


async def arq_record(ctx, value):
    ctx["seen"].append((ctx["job_id"], value))


async def test_arq_enqueues_on_redis_and_a_worker_runs_it():
    queue = f"satreps:test:{uuid.uuid4().hex}"
    jobs = ArqJobs(REDIS_URL, queue_name=queue)
    try:
        job_id = f"job-7-{uuid.uuid4().hex}"  # arq keeps results (and so the id) for an hour
        assert await jobs.enqueue("arq_record", 7, job_id=job_id)
        assert not await jobs.enqueue("arq_record", 7, job_id=job_id)  # de-duplicated
        seen: list = []
        worker = Worker(
            functions=[arq_record],
            queue_name=queue,
            redis_pool=await jobs._connect(),
            burst=True,
            poll_delay=0.01,
            ctx={"seen": seen},
            handle_signals=False,
        )
        await worker.main()
        assert seen == [(f"satreps:{job_id}", 7)]  # the deployment's prefix in front
        await worker.close()
    finally:
        pool = await jobs._connect()
        await pool.delete(queue)
        await jobs.close()


async def test_held_jobs_wait_for_drain():
    seen: list = []
    jobs = InProcessJobs({"record": record}, autostart=False)
    await jobs.enqueue("record", 1, seen, job_id="h")
    await asyncio.sleep(0.05)
    assert seen == []
    await jobs.drain()
    assert seen == [("h", 1)]
