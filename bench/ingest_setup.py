"""What bench/ingest.py's runs share: the generated inputs, the services on loopback (Redis
database 7, SeaweedFS), and the bench's dataset version with its settings and object store
(Bench), into which uploads are queued through the ORM."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from common import ROOT
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.datasets.upload_states import move
from server.datasets.uploads import raw_key
from server.models import Dataset, DatasetVersion, Institution, Project, Upload
from server.models.enums import AccessLevel, InstitutionKind, UploadState, VersionState
from server.storage import ObjectStore, store_from_settings
from tests.fixtures.seaweed import SeaweedS3, start_seaweed, stop_seaweed

MiB = 1 << 20
REDIS_URL = os.environ.get("SATREPS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def say(*parts: object) -> None:
    print(*parts, flush=True)


# ---- inputs ----------------------------------------------------------------------------


def make_opaque(path: Path, size: int) -> None:
    block = os.urandom(4 * MiB)
    with path.open("wb") as fh:
        written = 0
        while written < size:
            piece = block[: size - written]
            fh.write(piece)
            written += len(piece)


def make_csv(path: Path, size: int) -> None:
    """About `size` bytes of a field-station table: ints, floats (some empty), text with
    quoting, a category, a date and a timestamp; batches of 50,000 rows with new ids."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    n = 50_000
    stations = [f"ST-{i:04d}" for i in range(997)]
    quality = ["good", "good", "good", "suspect", "missing"]
    notes = ["", "gauge reading", "manual check, after rain", 'sensor "B" replaced', "ok"]
    base_day = dt.date(2021, 1, 1)
    base_ts = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    base = pa.table(
        {
            "id": pa.array(range(n), pa.int64()),
            "station": pa.array([stations[i * 31 % 997] for i in range(n)]),
            "date": pa.array([base_day + dt.timedelta(days=i % 1461) for i in range(n)]),
            "observed_at": pa.array(
                [base_ts + dt.timedelta(seconds=i * 617) for i in range(n)],
                pa.timestamp("s", tz="UTC"),
            ),
            "level_m": pa.array([(i * 7919 % 10007) / 1000.0 for i in range(n)]),
            "temperature_c": pa.array(
                [None if i % 53 == 0 else round(15 + (i * 13 % 200) / 10.0, 1) for i in range(n)]
            ),
            "rainfall_mm": pa.array([(i * 2654435761 % 100003) / 1000.0 for i in range(n)]),
            "count": pa.array([i * 37 % 1000 for i in range(n)], pa.int32()),
            "quality": pa.array([quality[i % 5] for i in range(n)]),
            "note": pa.array([notes[i * 7 % 5] for i in range(n)]),
        }
    )
    with pacsv.CSVWriter(path, base.schema) as writer:
        offset = 0
        while path.stat().st_size < size:
            writer.write_table(base.set_column(0, "id", pc.add(base.column("id"), offset)))
            offset += n


SMALL_CSV = b"station,date,level_m,quality\n" + b"".join(
    b"ST-%04d,2023-01-%02d,%d.%03d,good\n" % (i, i + 1, i, i * 37) for i in range(12)
)


# ---- database, Redis -------------------------------------------------------------------


async def flush_redis() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()  # this database only
    finally:
        await redis.aclose()


@contextmanager
def redis_db7() -> Iterator[None]:
    asyncio.run(flush_redis())
    try:
        yield
    finally:
        asyncio.run(flush_redis())
        say(f"cleanup: flushed {REDIS_URL}")


@contextmanager
def seaweed(base: Path) -> Iterator[SeaweedS3]:
    process, info, _log = start_seaweed(base)
    say(f"SeaweedFS S3 on {info.endpoint} (up in {info.start_seconds:.1f} s)")
    try:
        yield info
    finally:
        stop_seaweed(process)
        say(f"cleanup: SIGKILLed weed (pid {process.pid})")


# ---- the setup the runs share -----------------------------------------------------------


@dataclass
class Bench:
    url: str
    s3: SeaweedS3
    tmp: Path
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    store: ObjectStore
    dataset: Dataset
    version: DatasetVersion

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
        env.update(
            SATREPS_DATABASE_URL=self.url,
            SATREPS_REDIS_URL=REDIS_URL,
            SATREPS_S3_ENDPOINT=self.s3.endpoint,
            SATREPS_S3_ACCESS_KEY=self.s3.access_key,
            SATREPS_S3_SECRET_KEY=self.s3.secret_key,
            SATREPS_S3_SECURE="false",
            SATREPS_S3_REGION=self.s3.region,
            SATREPS_OBJECT_DIR=str(self.tmp / "objects"),
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            NO_COLOR="1",
        )
        return env


def bench_settings(url: str, s3: SeaweedS3, tmp: Path) -> Settings:
    return s3.settings(tmp / "objects", database_url=url, redis_url=REDIS_URL, auto_migrate=False)


async def open_bench(url: str, s3: SeaweedS3, tmp: Path) -> Bench:
    settings = bench_settings(url, s3, tmp)
    engine = make_engine(url)
    sessions = session_factory(engine)
    store = store_from_settings(settings)
    await store.ensure_buckets()
    for bucket in (store.buckets.raw, store.buckets.artifacts):  # SeaweedFS grows volumes on
        await store.put(bucket, f"warm-up/{uuid.uuid4().hex}", os.urandom(8 * MiB))  # first write
    async with sessions() as session:
        institution = Institution(
            name_en="Bench Institute", country_code="JP", kind=InstitutionKind.UNIVERSITY
        )
        project = Project(title="Bench project")
        session.add_all([institution, project])
        await session.flush()
        dataset = Dataset(
            project_id=project.id,
            owner_institution_id=institution.id,
            title="Ingest benchmark",
            licence="CC-BY-4.0",
            access_level=AccessLevel.PUBLIC,
        )
        session.add(dataset)
        await session.flush()
        version = DatasetVersion(dataset_id=dataset.id, number=1, state=VersionState.DRAFT)
        session.add(version)
        await session.commit()
    return Bench(url, s3, tmp, settings, engine, sessions, store, dataset, version)


async def close_bench(bench: Bench) -> None:
    bench.store.close()
    await bench.engine.dispose()


async def queued_upload(bench: Bench, filename: str, source: Path | bytes) -> tuple[int, str, str]:
    """An Upload row in QUEUED state whose raw object holds `source`: (id, key, sha256)."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        size = (await asyncio.to_thread(source.stat)).st_size
    async with bench.sessions() as session:
        upload = Upload(
            version_id=bench.version.id,
            filename=filename,
            object_key=f"pending/{uuid.uuid4().hex}",
            declared_size=size,
            state=UploadState.AWAITING_UPLOAD,
        )
        session.add(upload)
        await session.flush()
        upload.object_key = raw_key(bench.dataset, bench.version, upload)
        await session.commit()
        upload_id, key = upload.id, upload.object_key
    info = await bench.store.put(bench.store.buckets.raw, key, source)
    async with bench.sessions() as session:
        row = await session.get(Upload, upload_id)
        assert row is not None
        move(row, UploadState.UPLOADED)
        row.size = info.size
        move(row, UploadState.QUEUED)
        await session.commit()
    return upload_id, key, info.sha256 or ""
