"""The operator's endpoints: /healthz (the process answers), /readyz (the database, Redis
when configured, and the object store answer; clamd's state is reported beside them when
uploads are scanned), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from redis.asyncio import Redis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.config import Settings
from server.core.metrics import Probe, exposition, queue_depth
from server.datasets.malware import Scanner
from server.models import Upload
from server.models.enums import UploadState
from server.storage import ObjectStore

CHECK_TIMEOUT = 5.0  # a probe that hangs is a failed probe, not a hung kubelet


class Probes:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        store: ObjectStore,
        redis: Any = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.store = store
        self._owns_redis = redis is None and bool(settings.redis_url)
        if self._owns_redis:
            redis = Redis.from_url(str(settings.redis_url), socket_connect_timeout=CHECK_TIMEOUT)
        self.redis = redis

    async def healthz(self, _: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, _: Request) -> Response:
        checks = {"database": await _check(self._database())}
        if self.redis is not None:
            checks["redis"] = await _check(self.redis.ping())
        checks["objects"] = await _check(self.store.check())
        ready = all(v == "ok" for v in checks.values())
        if self.settings.scan_uploads:
            # reported, not gating: the workers scan, and while clamd is away uploads wait
            # (PROCESSING, then QUEUED) while the API keeps serving everything else
            checks["scanner"] = await _check(Scanner(self.settings).ping())
        return JSONResponse(
            {"status": "ready" if ready else "unavailable", **checks}, 200 if ready else 503
        )

    async def metrics(self, _: Request) -> Response:
        return Response(await exposition(self.probes()), media_type=CONTENT_TYPE_LATEST)

    def probes(self) -> list[Probe]:
        async def uploads() -> Any:
            return await upload_states(self.sessions)

        probes: list[Probe] = [uploads]
        if self.redis is not None:

            async def queue() -> Any:
                return await queue_depth(self.redis, self.settings.redis_queue)

            probes.append(queue)
        return probes

    async def close(self) -> None:
        if self._owns_redis and self.redis is not None:
            await self.redis.aclose()

    async def _database(self) -> None:
        async with self.sessions() as session:
            await session.execute(text("SELECT 1"))


async def upload_states(sessions: async_sessionmaker[AsyncSession]) -> GaugeMetricFamily:
    async with sessions() as session:
        rows = (
            await session.execute(select(Upload.state, func.count()).group_by(Upload.state))
        ).all()
    counts = {UploadState(state): int(n) for state, n in rows}
    family = GaugeMetricFamily(
        "satreps_uploads", "Uploads by state (from the database)", labels=["state"]
    )
    for state in UploadState:
        family.add_metric([state.value], counts.get(state, 0))
    return family


async def _check(check: Any) -> str:
    """'ok', or what went wrong (short): a probe reports, it never raises."""
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT)
        return "ok"
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT:.0f} s"
    except Exception as error:
        return (str(error) or type(error).__name__)[:200]
