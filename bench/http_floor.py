"""Small queries against the HTTP floor (issue 26), measured with wrk from outside.

    .venv/bin/python bench/http_floor.py [--seconds 5] [--rounds 3] [--concurrency 1,8]
                                         [--no-redis]

One run, one PostgreSQL database (created and dropped here, seeded with
`server.demo.seed_scaled` as bench/graph_read.py seeds it), four servers, each one process
on the same stack (uvicorn, with uvloop and httptools as `satreps serve` picks them):

- satreps:      `satreps serve` itself (rate limits on but never reached: the charge is
                paid on every request, in Redis (database 7) as deployed at scale, one
                process; `--no-redis`: in the process, as embedded; metrics, logs,
                timeouts as served);
- hand-written: bench/graph_read_sql.py's Starlette endpoints, one statement whose JSON
                text is the body (PostgreSQL, autocommit, a pool that does not ping at
                checkout, as asyncpg's own pool);
- floor:        a bare ASGI callable answering a fixed body of the node answer's size: the
                least any Python server on this stack can do per request;
- minimal:      a bare ASGI callable running the hand-written node statement on asyncpg
                connections lent from the fast path's stack: the least any server on
                this stack can do for a request that reads the database (no routing,
                token, rate limit, logs or metrics).

After the servers, the node statement alone: the same statement back to back on asyncpg
connections at each concurrency, no HTTP (the database's part of every request).

Requests (wrk, one thread, keep-alive, POST for GraphQL; every answer checked first):
`node(id)` of a public project anonymously and with an admin token, `me` with the token, a
page of 20 projects (`projects(first: 20)`, with the token: the hand-written page lists every
project, as the admin sees them), against `/projects/<id>` and
`/projects?first=20` on the hand-written server and the fixed reply on the floor. Each
target runs `--rounds` times in interleaved order at each concurrency; the median req/s
and the medians of wrk's p50 and p99 are printed, with the ratios the issue sets: node(id)
at least 1.7x the hand-written endpoint and at least 0.5x the floor, per process.

The machine runs client, servers and database on 2 cores: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
from common import ROOT, fresh_database
from graph_read_queries import (
    NESTED_QUERY,
    NODE_QUERY,
    PAGE_QUERY,
    normalise_nested,
    normalise_node,
    normalise_page,
)
from graph_read_seed import seed
from graph_read_sql import public_phases_sql
from ingest_setup import REDIS_URL
from redis.asyncio import Redis

from server.core.db import make_engine
from server.migrations import upgrade

PAGE = 20
PREFIX = f"bench-floor-{os.getpid()}:"  # this run's Redis names, removed at the end
ME_QUERY = "{ me { role researcher { id } institution { id } } }"
SERVE_CHILD = textwrap.dedent(
    """
    import sys, uvicorn
    sys.path.insert(0, sys.argv[3])
    kind, port, url = sys.argv[1], int(sys.argv[2]), sys.argv[4]
    if kind == "hand":
        from graph_read_sql import hand_app, hand_engine  # autocommit, no pre-ping
        app = hand_app(hand_engine(url))
    elif kind == "minimal":
        from http_floor import minimal_app
        app = minimal_app(url, int(sys.argv[5]))
    else:
        body = b"x" * int(sys.argv[5])
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": head})
            await send({"type": "http.response.body", "body": body})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    """
)


def minimal_app(url: str, project_id: int) -> Any:
    """The least a server on this stack can do for the node request: a bare ASGI callable,
    the hand-written node statement on asyncpg connections lent from the fast path's own
    stack (server/core/fast_pool.py, leaner than asyncpg's pool; prepared once per
    connection), its JSON text as the body; no routing, no checks, no logs, no metrics."""
    import asyncpg
    from graph_read_sql import hand_sql
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    from server.core.fast_pool import ConnectionStack
    from server.core.fast_reads import asyncpg_dsn

    sql = hand_sql("postgresql").node.compile(dialect=pg_asyncpg.dialect()).string
    dsn = asyncpg_dsn(url)
    pool = ConnectionStack(lambda: asyncpg.connect(dsn), 10)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        connection = await pool.acquire()
        try:
            body = (await connection.fetchval(sql, project_id)).encode()
        finally:
            pool.release(connection, reusable=True)
        head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": body})

    return app


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url}: not up within {seconds} s")


def start_servers(
    url: str, tmp: Path, floor_bytes: int, names: tuple[str, ...], redis_url: str | None
) -> dict[str, tuple[str, Any]]:
    ports = {name: free_port() for name in names}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    if redis_url is not None:  # as deployed at scale: budgets in Redis, one process here
        env.update(SATREPS_REDIS_URL=redis_url, SATREPS_SERVE_PROCESSES="1")
    env.update(
        SATREPS_DATABASE_URL=url,
        SATREPS_OBJECT_DIR=str(tmp / "objects"),
        SATREPS_REDIS_PREFIX=PREFIX,
        SATREPS_LOG_LEVEL="WARNING",
        SATREPS_RATE_LIMIT_POINTS=str(2**31 - 1),
        SATREPS_RATE_LIMIT_ANONYMOUS_POINTS=str(2**31 - 1),
        SATREPS_AUTO_MIGRATE="false",
        PYTHONPATH=str(ROOT),
    )
    satreps = [str(Path(sys.executable).with_name("satreps")), "serve"]
    bench_dir = str(Path(__file__).parent)
    child = [sys.executable, "-c", SERVE_CHILD]
    commands = {
        "satreps": [*satreps, "--port", str(ports.get("satreps", 0))],
        "hand": [*child, "hand", str(ports.get("hand", 0)), bench_dir, url],
        "floor": [*child, "floor", str(ports.get("floor", 0)), bench_dir, url, str(floor_bytes)],
        # the minimal server takes the project's id where the floor takes its size
        "minimal": [
            *child,
            "minimal",
            str(ports.get("minimal", 0)),
            bench_dir,
            url,
            str(floor_bytes),
        ],
    }
    servers: dict[str, tuple[str, Any]] = {}
    for name in names:
        command = commands[name]
        log = (tmp / f"{name}.log").open("wb")
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{ports[name]}"
        servers[name] = (base, process)
        wait_up(base + ("/healthz" if name == "satreps" else "/"), process)
    return servers


def stop_servers(servers: dict[str, tuple[str, Any]]) -> None:
    for _, process in servers.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for _, process in servers.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def lua(method: str, body: str | None, token: str | None) -> str:
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append('wrk.headers["Content-Type"] = "application/json"')
        lines.append(f"wrk.body = {json.dumps(body)}")
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    return "\n".join(lines) + "\n"


def wrk(url: str, script: Path, concurrency: int, seconds: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{url}: wrk saw errors\n{out}")
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for label, key in (("50%", "p50"), ("99%", "p99")):
        value, unit = re.search(rf"\s{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        figures[key] = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return figures


def graphql(query: str, variables: dict[str, Any] | None = None) -> str:
    return json.dumps({"query": query, "variables": variables or {}})


def check(servers: dict[str, tuple[str, Any]], targets: list[dict[str, Any]]) -> None:
    """Every GraphQL answer against the hand-written one (or its own shape), before timing."""
    hand = servers["hand"][0]
    for target in targets:
        if target["server"] != "satreps":
            continue
        headers = {"Content-Type": "application/json"}
        if target["token"]:
            headers["Authorization"] = f"Bearer {target['token']}"
        got = httpx.post(
            servers["satreps"][0] + "/graphql", content=target["body"], headers=headers
        )
        body = got.json()
        if got.status_code != 200 or "errors" in body:
            raise RuntimeError(f"{target['name']}: {got.status_code} {got.text[:300]}")
        if target.get("hand_path"):
            theirs = httpx.get(hand + target["hand_path"]).json()
            normalise = target["normalise"]
            if normalise(body["data"]) != normalise(theirs["data"]):
                raise RuntimeError(f"{target['name']}: the answer differs from the hand-written")


async def prepare(url: str, tmp: Path) -> tuple[int, dict[str, str]]:
    upgrade(url)
    args = argparse.Namespace(themes=20, projects=25, institutions=4, member_projects=10)
    _, tokens = await seed(url, args)
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            project_id = (
                await conn.exec_driver_sql(
                    "SELECT pt.project_id FROM project_themes pt"
                    " JOIN projects pr ON pr.id = pt.project_id"
                    f" WHERE pr.phase IN ({public_phases_sql()})"
                    " GROUP BY pt.project_id ORDER BY count(*) DESC, pt.project_id LIMIT 1"
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return int(project_id), tokens


def targets_for(project_id: int, token: str) -> list[dict[str, Any]]:
    gid = base64.b64encode(f"Project:{project_id}".encode()).decode()
    node = graphql(NODE_QUERY, {"id": gid})
    page = graphql(PAGE_QUERY.replace("first: 50", f"first: {PAGE}"))
    return [
        {"name": "node anon", "server": "satreps", "body": node, "token": None,
         "hand_path": f"/projects/{project_id}", "normalise": normalise_node},
        {"name": "node token", "server": "satreps", "body": node, "token": token,
         "hand_path": f"/projects/{project_id}", "normalise": normalise_node},
        {"name": "me token", "server": "satreps", "body": graphql(ME_QUERY), "token": token},
        {"name": "page of 20", "server": "satreps", "body": page, "token": token,
         "hand_path": f"/projects?first={PAGE}", "normalise": normalise_page},
        {"name": "nested", "server": "satreps", "body": graphql(NESTED_QUERY), "token": token,
         "hand_path": "/themes", "normalise": normalise_nested},
        {"name": "hand node", "server": "hand", "path": f"/projects/{project_id}"},
        {"name": "hand nested", "server": "hand", "path": "/themes"},
        {"name": "hand page", "server": "hand", "path": f"/projects?first={PAGE}"},
        {"name": "floor", "server": "floor", "path": "/"},
        {"name": "minimal", "server": "minimal", "path": "/"},
    ]  # fmt: skip


def run(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    tmp = Path(tempfile.mkdtemp(prefix="satreps-bench-floor-"))
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    try:
        with fresh_database("http_floor", say) as url:
            project_id, tokens = asyncio.run(prepare(url, tmp))
            targets = targets_for(project_id, tokens["admin"])
            redis_url = None if args.no_redis else REDIS_URL
            servers = start_servers(url, tmp, 0, ("satreps", "hand"), redis_url)
            try:
                check(servers, targets)
                if redis_url is not None:
                    budgets = asyncio.run(redis_keys(redis_url, PREFIX + "ratelimit:*"))
                    if not budgets:
                        raise RuntimeError("satreps serve charged no budget in Redis")
                    say(f"rate-limit budgets in Redis ({redis_url}): {len(budgets)}")
                else:
                    say("rate-limit budgets in the process (--no-redis)")
                answer = httpx.post(
                    servers["satreps"][0] + "/graphql",
                    content=targets[0]["body"],
                    headers={"Content-Type": "application/json"},
                )
                size = len(answer.content)  # the floor answers as many bytes
                servers.update(start_servers(url, tmp, size, ("floor",), None))
                servers.update(start_servers(url, tmp, project_id, ("minimal",), None))
                minimal = httpx.get(servers["minimal"][0] + "/").json()
                if minimal != httpx.get(servers["hand"][0] + f"/projects/{project_id}").json():
                    raise RuntimeError("the minimal server's answer differs from the hand-written")
                say(f"node(id) answer and the floor's: {size} bytes")
                results = measure_all(servers, targets, concurrencies, args, tmp)
            finally:
                stop_servers(servers)
            for concurrency in concurrencies:
                got = asyncio.run(statement_alone(url, project_id, concurrency, args.seconds))
                results[("statement", concurrency)] = [got]
                say(f"  c{concurrency} the node statement alone on asyncpg {got['rps']:8.0f} /s")
        report(results, concurrencies)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.no_redis:
            asyncio.run(redis_keys(REDIS_URL, PREFIX + "*", delete=True))


async def redis_keys(url: str, pattern: str, *, delete: bool = False) -> list[bytes]:
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=pattern)]
        if keys and delete:
            await redis.delete(*keys)
        return keys
    finally:
        await redis.aclose()


def measure_all(
    servers: dict[str, tuple[str, Any]],
    targets: list[dict[str, Any]],
    concurrencies: list[int],
    args: argparse.Namespace,
    tmp: Path,
) -> dict[tuple[str, int], list[dict[str, float]]]:
    scripts = {}
    for target in targets:
        script = tmp / f"{target['name'].replace(' ', '-')}.lua"
        if target["server"] == "satreps":
            script.write_text(lua("POST", target["body"], target["token"]))
            target["url"] = servers["satreps"][0] + "/graphql"
        else:
            script.write_text(lua("GET", None, None))
            target["url"] = servers[target["server"]][0] + target["path"]
        scripts[target["name"]] = script
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    for concurrency in concurrencies:
        for target in targets:  # warm-up: plans cached, pools filled
            wrk(target["url"], scripts[target["name"]], concurrency, 1)
        for round_ in range(args.rounds):
            order = targets if round_ % 2 == 0 else list(reversed(targets))
            for target in order:
                got = wrk(target["url"], scripts[target["name"]], concurrency, args.seconds)
                results.setdefault((target["name"], concurrency), []).append(got)
                say(
                    f"  c{concurrency} round {round_ + 1} {target['name']:<11}"
                    f" {got['rps']:8.0f} req/s  p50 {got['p50']:.2f} ms  p99 {got['p99']:.2f} ms"
                )
    return results


async def statement_alone(
    url: str, project_id: int, concurrency: int, seconds: int
) -> dict[str, float]:
    """The database's part alone: the hand-written node statement run back to back on
    `concurrency` asyncpg connections (prepared once, as every server here does), no HTTP.
    No request that reads the database can answer faster than this."""
    import asyncpg
    from graph_read_sql import hand_sql
    from sqlalchemy.dialects.postgresql import asyncpg as pg_asyncpg

    from server.core.fast_reads import asyncpg_dsn

    sql = hand_sql("postgresql").node.compile(dialect=pg_asyncpg.dialect()).string
    connections = [await asyncpg.connect(asyncpg_dsn(url)) for _ in range(concurrency)]
    latencies: list[float] = []
    try:
        deadline = time.perf_counter() + seconds

        async def loop(connection: Any) -> None:
            while (started := time.perf_counter()) < deadline:
                await connection.fetchval(sql, project_id)
                latencies.append(time.perf_counter() - started)

        for connection in connections:  # prepared and warm
            await connection.fetchval(sql, project_id)
        began = time.perf_counter()
        await asyncio.gather(*(loop(c) for c in connections))
        elapsed = time.perf_counter() - began
    finally:
        for connection in connections:
            await connection.close()
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def report(
    results: dict[tuple[str, int], list[dict[str, float]]], concurrencies: list[int]
) -> None:
    def med(name: str, c: int, key: str) -> float:
        return statistics.median(r[key] for r in results[(name, c)])

    say("\nmedians over the rounds (req/s, p50 ms, p99 ms)")
    for c in concurrencies:
        say(f"concurrency {c}:")
        for name in sorted({n for n, cc in results if cc == c}, key=lambda n: -med(n, c, "rps")):
            say(
                f"  {name:<11} {med(name, c, 'rps'):8.0f}  {med(name, c, 'p50'):6.2f}"
                f"  {med(name, c, 'p99'):6.2f}"
            )
        node, hand, floor = (med(n, c, "rps") for n in ("node anon", "hand node", "floor"))
        token = med("node token", c, "rps")
        page, hand_page = med("page of 20", c, "rps"), med("hand page", c, "rps")
        nested, hand_nested = med("nested", c, "rps"), med("hand nested", c, "rps")
        alone = med("statement", c, "rps")
        minimal = med("minimal", c, "rps")
        say(
            f"  node(id) anon {node / hand:.2f}x the hand-written endpoint (target >= 1.7),"
            f" {node / floor:.2f}x the floor (target >= 0.5); with a token {token / hand:.2f}x"
            f" and {token / floor:.2f}x; page of 20 {page / hand_page:.2f}x the hand-written page;"
            f" the nested read {nested / hand_nested:.2f}x the hand-written one (target >= 1.2)"
        )
        say(
            f"  the node statement alone on asyncpg (no HTTP) {alone / floor:.2f}x the floor;"
            f" the minimal server (bare ASGI + asyncpg, no checks) {minimal / hand:.2f}x the"
            f" hand-written endpoint and {minimal / floor:.2f}x the floor: node(id) anon is"
            f" {node / minimal:.2f}x the minimal server, with a token {token / minimal:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8")
    parser.add_argument(
        "--no-redis",
        action="store_true",
        help="satreps serve without Redis (rate-limit budgets in the process, as embedded)",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
