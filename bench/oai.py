"""A full OAI-PMH ListRecords harvest (oai_dc) of many published versions from a real
`satreps serve`, page after page by resumption token, against a baseline in the same run:
one plain SELECT of the same public records, their records read with the same
`load_records` batches and serialised by the same code, with no HTTP and no protocol.
Prints records/s of both, the ratio, and the server's RSS before, at its peak during and
after the harvest (flat: a response holds one page).

    .venv/bin/python bench/oai.py --quick                 # 2,000 records, PostgreSQL
    .venv/bin/python bench/oai.py                         # 100,000 records
    .venv/bin/python bench/oai.py --backends postgresql,sqlite --page-size 500

The records are made straight in the database (tests/fixtures/oai.py: a public dataset,
its published version and its public record each, 5,000 rows a statement): this measures
harvesting, not publishing. One server process (SATREPS_SERVE_PROCESSES=1), so its RSS is
the server's. Target: at least 2,000 records/s through the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
from common import fresh_database  # noqa: E402
from download import RssSampler, env_of, free_port, rss_mib, say  # noqa: E402
from sqlalchemy import select  # noqa: E402

from server.core.config import Settings  # noqa: E402
from server.core.db import make_engine, session_factory  # noqa: E402
from server.core.url_signing import UrlSigner  # noqa: E402
from server.http.oai import repository  # noqa: E402
from server.migrations import upgrade  # noqa: E402
from server.models import Institution, Project, PublicRecord  # noqa: E402
from server.models.enums import InstitutionKind, ProjectPhase  # noqa: E402
from server.publishing.loading import load_records  # noqa: E402
from server.publishing.oai import BATCH, FORMATS, record_element, set_specs_of  # noqa: E402
from server.publishing.oai_queries import Header  # noqa: E402
from tests.fixtures.oai import bulk_published  # noqa: E402

TARGET = 2_000  # records/s
BASE = "http://127.0.0.1"
_TOKEN = re.compile(rb"<resumptionToken[^>]*>([^<]+)</resumptionToken>")


async def seed(settings: Settings, count: int) -> None:
    engine = make_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            institution = Institution(
                name_en="Bench Institute", country_code="JP", kind=InstitutionKind.UNIVERSITY
            )
            project = Project(title="Harvest bench", phase=ProjectPhase.IMPLEMENTATION)
            session.add_all([institution, project])
            await session.flush()
            await bulk_published(
                session, project_id=project.id, institution_id=institution.id, count=count
            )
            await session.commit()
    finally:
        await engine.dispose()


async def baseline(settings: Settings) -> tuple[int, float, int]:
    """One SELECT of every public record, then the same batches and serialiser as the
    server's: (records, seconds, bytes written)."""
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    repo = repository(settings, sessions, UrlSigner(b"bench" * 8))
    fmt, written, done = FORMATS["oai_dc"], 0, 0
    try:
        start = time.perf_counter()
        async with sessions() as session:
            rows = await session.execute(
                select(
                    PublicRecord.version_id,
                    PublicRecord.dataset_id,
                    PublicRecord.datestamp,
                    PublicRecord.deleted,
                ).order_by(PublicRecord.datestamp, PublicRecord.version_id)
            )
            headers = [Header(v, d, s, bool(x)) for v, d, s, x in rows]
        day = dt.datetime.now(dt.UTC).date()
        step = min(BATCH, settings.oai_page_size)
        for first in range(0, len(headers), step):
            batch = headers[first : first + step]
            async with sessions() as session:
                records = await load_records(session, [h.version_id for h in batch], today=day)
            specs = {r.dataset_id: set_specs_of(r) for r in records.values()}
            text = "".join(
                record_element(
                    repo, BASE, h, specs[h.dataset_id], records.get(h.version_id), fmt, day
                )
                for h in batch
            )
            written += len(text.encode())
            done += len(batch)
        return done, time.perf_counter() - start, written
    finally:
        await engine.dispose()


@contextlib.contextmanager
def serving(settings: Settings, base: Path, page_size: int) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = env_of(settings, base)
    env.update(SATREPS_SERVE_PROCESSES="1", SATREPS_OAI_PAGE_SIZE=str(page_size))
    log = (base / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=base,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if process.poll() is not None:
                tail = (base / "serve.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"satreps serve exited {process.returncode}:\n{tail}")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        say(f"cleanup: stopped satreps serve (pid {process.pid})")


async def harvest(url: str) -> tuple[int, int, float, int]:
    """Every page of ListRecords: (records, pages, seconds, bytes received)."""
    params: dict[str, str] = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    records = pages = received = 0
    times: list[float] = []
    async with httpx.AsyncClient(timeout=600) as http:
        start = time.perf_counter()
        while True:
            asked = time.perf_counter()
            response = await http.get(f"{url}/oai", params=params)
            times.append(time.perf_counter() - asked)
            assert response.status_code == 200, response.status_code
            body = response.content
            assert b"<error" not in body, body[:2000]
            records += body.count(b"<record>")
            received += len(body)
            pages += 1
            match = _TOKEN.search(body)
            if match is None:
                break
            params = {"verb": "ListRecords", "resumptionToken": match.group(1).decode()}
        slowest = sorted(times)[-3:]
        say(f"pages: median {sorted(times)[len(times) // 2] * 1000:.0f} ms, slowest {slowest}")
        return records, pages, time.perf_counter() - start, received


async def measure(backend: str, settings: Settings, base: Path, count: int, page: int) -> None:
    upgrade(settings.database_url)
    say(f"{backend}: seeding {count:,} published versions")
    started = time.perf_counter()
    await seed(settings, count)
    say(f"{backend}: seeded in {time.perf_counter() - started:.1f} s")
    base_n, base_s, base_bytes = await baseline(settings)
    with serving(settings, base, page) as (url, pid):
        await harvest_warm(url)
        before = rss_mib(pid)
        sampler = RssSampler(pid)
        sampler.start()
        got, pages, seconds, received = await harvest(url)
        sampler.running = False
        sampler.join()
        after = rss_mib(pid)
    assert got == count == base_n, (got, count, base_n)
    served, plain = got / seconds, base_n / base_s
    print(f"## OAI-PMH ListRecords (oai_dc), {backend}: {count:,} records, {page} a page")
    print(f"plain SELECT + same serialiser (baseline): {plain:8.0f} records/s ({base_s:.1f} s,")
    print(f"    {base_bytes / 2**20:.0f} MiB of records)")
    print(f"harvest through satreps serve:            {served:8.0f} records/s ({seconds:.1f} s,")
    print(f"    {pages} pages, {received / 2**20:.0f} MiB received)")
    verdict = "ok" if served >= TARGET else "BELOW TARGET"
    print(f"harvest / baseline: {served / plain:.2f}x; target >= {TARGET:,} records/s: {verdict}")
    print(
        f"server RSS: {before:.0f} MiB before, {sampler.peak:.0f} MiB peak, {after:.0f} MiB after"
    )


async def harvest_warm(url: str) -> None:
    """One Identify first: the server's first request pays its imports, not the harvest."""
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.get(f"{url}/oai", params={"verb": "Identify"})).status_code == 200


def run(backend: str, count: int, page: int) -> None:
    with tempfile.TemporaryDirectory(prefix="satreps-bench-oai-") as tmp:
        base = Path(tmp)
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{base / 'bench.db'}"
            asyncio.run(measure(backend, bench_settings(url, base, page), base, count, page))
            return
        with fresh_database("oai", say) as url:
            asyncio.run(measure(backend, bench_settings(url, base, page), base, count, page))


def bench_settings(url: str, base: Path, page: int = 100) -> Settings:
    return Settings(database_url=url, object_dir=base / "objects", oai_page_size=page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=100, help="SATREPS_OAI_PAGE_SIZE")
    parser.add_argument("--backends", default="postgresql", help="postgresql,sqlite")
    parser.add_argument("--quick", action="store_true", help="2,000 records: a smoke run")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.records
    for backend in args.backends.split(","):
        run(backend.strip(), count, args.page_size)


if __name__ == "__main__":
    main()
