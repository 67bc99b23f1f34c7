"""Benchmark: events through the outbox to 10 webhook receivers, one of which fails every
second call, against the same POSTs sent directly (no outbox, no database).

    .venv/bin/python bench/notify.py [--events 10000] [--rate 0] [--receivers 10] [--dispatchers 2]
                                     [--backends postgresql,sqlite]

Each backend gets a fresh database (PostgreSQL: a uniquely named one, dropped at the end;
SQLite: a file in a temporary directory), migrated, with one project and one webhook
subscription per receiver. The receivers are one uvicorn server on 127.0.0.1 in this
process (tests/fixtures/notify.py: each checks the signature of every POST and records it);
loopback is allowed for the run (SATREPS_WEBHOOK_ALLOW_PRIVATE), retries start after 50 ms
(doubling, at most 0.5 s) and the failing receiver is never disabled.

- outbox: an emitter writes the events (`emit`, 200 per transaction, or `--rate` a second)
  while `--dispatchers` Dispatchers (server/notifications/dispatch.py) fan out, claim, POST
  and record, as the workers do; latency is from the event's commit to its accepted POST
  (in a burst mostly the backlog's wait; paced below capacity, the pipeline's own).
- direct: the same signed POSTs straight to the receivers with the same concurrency, a
  failed one sent again at once: the floor of the HTTP work alone.

Then the check: every receiver must have accepted every event exactly once (by event
number), and no delivery id twice. Everything shares the 2-core machine: compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from common import fresh_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from server.core.config import Settings  # noqa: E402
from server.core.db import make_engine, session_factory  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from server.models import Delivery, Project, WebhookSubscription  # noqa: E402
from server.models.enums import ProjectPhase  # noqa: E402
from server.notifications.dispatch import Dispatcher  # noqa: E402
from server.notifications.events import emit  # noqa: E402
from server.notifications.webhooks import body_of, new_secret, signature  # noqa: E402
from tests.fixtures.notify import Receiver, serve_receivers, stop_receivers  # noqa: E402

EMIT_BATCH = 200


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def settings_for(url: str, concurrency: int) -> Settings:
    return Settings(
        database_url=url,
        webhook_allow_private=True,
        webhook_backoff_seconds=0.05,
        webhook_backoff_max_seconds=0.5,
        webhook_max_attempts=50,
        webhook_disable_after=10**9,
        webhook_timeout_seconds=10.0,
        notify_batch=500,
        notify_concurrency=concurrency,
        notify_claim_seconds=60.0,
    )


class Timed(Receiver):
    """A receiver that also keeps when it accepted each event (by number)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.accepted: dict[int, float] = {}
        self.numbers: Counter[int] = Counter()

    async def endpoint(self, request: Any) -> Any:
        response = await super().endpoint(request)
        if response.status_code == 204:
            number = self.got[-1].body["data"]["n"]
            self.numbers[number] += 1
            self.accepted.setdefault(number, time.time())
        return response


async def outbox_run(
    url: str, events: int, receivers: int, dispatchers: int, rate: float = 0.0
) -> dict[str, Any]:
    engine = make_engine(url)
    sessions = session_factory(engine)
    served = await serve_receivers()
    hooks = []
    for i in range(receivers):
        hook = Timed(behaviour="half" if i == 0 else "ok", port=served.port, name=f"r{i}")
        served.receivers[hook.name] = hook
        hooks.append(hook)
    settings = settings_for(url, 50)
    async with sessions() as session:
        project = Project(title="Bench", phase=ProjectPhase.IMPLEMENTATION)
        session.add(project)
        await session.flush()
        for hook in hooks:
            hook.secret = new_secret()
            session.add(
                WebhookSubscription(
                    project_id=project.id,
                    url=hook.url,
                    secret=hook.secret,
                    enabled=True,
                    consecutive_failures=0,
                )
            )
        await session.commit()
        project_id = project.id
    emitted_at: dict[int, float] = {}
    emitting = True
    lock_errors: list[int] = []

    async def emitter() -> None:
        nonlocal emitting
        batch = max(1, int(rate / 10)) if rate else EMIT_BATCH
        begun = time.monotonic()
        for start in range(0, events, batch):
            if rate:  # paced: `rate` events a second, in tenths of a second
                await asyncio.sleep(max(0.0, begun + start / rate - time.monotonic()))
            async with sessions() as session:
                for n in range(start, min(events, start + batch)):
                    emit(session, "version.published", project_id=project_id, payload={"n": n})
                await session.commit()
            now = time.time()
            for n in range(start, min(events, start + batch)):
                emitted_at[n] = now
            await asyncio.sleep(0)
        emitting = False

    def finished() -> bool:
        return not emitting and all(len(h.accepted) >= events for h in hooks)

    async def dispatch(k: int) -> None:
        dispatcher = Dispatcher(settings, sessions, owner=f"bench-{k}")
        try:
            while not finished():
                try:
                    made = await dispatcher.run_once()
                except OperationalError:  # SQLite's lock waited out (busy_timeout): again
                    lock_errors.append(k)
                    made = 0
                if not made:
                    await asyncio.sleep(0.01)
        finally:
            await dispatcher.aclose()

    started = time.perf_counter()
    await asyncio.gather(emitter(), *(dispatch(k) for k in range(dispatchers)))
    seconds = time.perf_counter() - started
    async with sessions() as session:
        states = dict(
            (
                await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
            ).all()
        )
    await stop_receivers(served)
    await engine.dispose()
    latencies = [
        (h.accepted[n] - emitted_at[n]) * 1000 for h in hooks for n in h.accepted if n in emitted_at
    ]
    lost = sum(events - len(h.accepted) for h in hooks)
    duplicated_events = sum(c - 1 for h in hooks for c in h.numbers.values() if c > 1)
    ids = Counter(g.delivery_id for h in hooks for g in h.got)
    return {
        "seconds": seconds,
        "delivered": sum(len(h.accepted) for h in hooks),
        "calls": sum(h.calls for h in hooks),
        "p50": quantile(latencies, 0.5),
        "p99": quantile(latencies, 0.99),
        "lost": lost,
        "duplicated": duplicated_events,
        "ids_twice": sum(1 for c in ids.values() if c > 1),
        "unsigned": sum(1 for h in hooks for g in h.got if not g.signed),
        "states": states,
        "lock_errors": len(lock_errors),
    }


async def direct_run(events: int, receivers: int, concurrency: int) -> dict[str, Any]:
    served = await serve_receivers()
    hooks = []
    for i in range(receivers):
        hook = Timed(behaviour="half" if i == 0 else "ok", port=served.port, name=f"r{i}")
        hook.secret = new_secret()
        served.receivers[hook.name] = hook
        hooks.append(hook)
    slots = asyncio.Semaphore(concurrency)
    occurred = dt.datetime.now(dt.UTC).isoformat()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency * 2)) as client:

        async def one(hook: Timed, n: int) -> None:
            delivery = f"direct-{hook.name}-{n}"
            body = body_of(delivery, "version.published", occurred, {"data": {"n": n}})
            async with slots:
                while True:
                    stamp = str(int(time.time()))
                    answer = await client.post(
                        hook.url,
                        content=body,
                        headers={
                            "Content-Type": "application/json",
                            "X-Satreps-Event": "version.published",
                            "X-Satreps-Delivery": delivery,
                            "X-Satreps-Timestamp": stamp,
                            "X-Satreps-Signature-256": signature(hook.secret, stamp, body),
                        },
                    )
                    if answer.status_code == 204:
                        return

        started = time.perf_counter()
        await asyncio.gather(*(one(h, n) for n in range(events) for h in hooks))
        seconds = time.perf_counter() - started
    await stop_receivers(served)
    return {
        "seconds": seconds,
        "delivered": sum(len(h.accepted) for h in hooks),
        "calls": sum(h.calls for h in hooks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--receivers", type=int, default=10)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="events a second (0: as fast as they can be written, a burst: the latency is"
        " then mostly the backlog's)",
    )
    args = parser.parse_args()
    pace = f"{args.rate:g} events/s" if args.rate else "a burst"
    print(
        f"{args.events} events ({pace}) x {args.receivers} receivers (r0 fails every second"
        f" call), {args.dispatchers} dispatchers"
    )
    direct = asyncio.run(direct_run(args.events, args.receivers, 50))
    direct_rate = direct["delivered"] / direct["seconds"]
    print(
        f"direct POSTs (no outbox): {direct['delivered']} delivered, {direct['calls']} calls"
        f" in {direct['seconds']:.1f} s: {direct_rate:.0f} deliveries/s"
    )
    for backend in args.backends.split(","):
        if backend == "postgresql":
            with fresh_database("notify") as url:
                upgrade(url)
                result = asyncio.run(
                    outbox_run(url, args.events, args.receivers, args.dispatchers, args.rate)
                )
        else:
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite+aiosqlite:///{tmp}/notify.db"
                upgrade(url)
                result = asyncio.run(
                    outbox_run(url, args.events, args.receivers, args.dispatchers, args.rate)
                )
        rate = result["delivered"] / result["seconds"]
        print(
            f"{backend} outbox: {result['delivered']} delivered, {result['calls']} calls in"
            f" {result['seconds']:.1f} s: {rate:.0f} deliveries/s ({rate / direct_rate:.2f}x of"
            f" direct); event to delivery p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms"
        )
        print(
            f"  check: lost {result['lost']}, duplicated {result['duplicated']}, delivery ids"
            f" accepted twice {result['ids_twice']}, unsigned"
            f" {result['unsigned']}; delivery rows {result['states']}; rounds that found the"
            f" database locked {result['lock_errors']}"
        )


if __name__ == "__main__":
    main()
