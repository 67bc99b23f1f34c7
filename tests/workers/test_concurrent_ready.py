"""Files of one version finishing at once, on PostgreSQL with real connections (no shared
test transaction): each commit takes the version's row (its coverage is the union of its
files), and none may deadlock against another.

Before the version's row was locked ahead of the file's insert, the insert's foreign key
took a share lock on the version, each finisher then waited for the other's share to go to
take its update lock, and PostgreSQL broke the deadlock by failing one of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.access.auth import Principal, ensure_account
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.migrations import upgrade
from server.models import DatasetVersion, Upload
from server.models.enums import AccountRole, UploadState
from server.storage import store_from_settings
from tests.conftest import postgres_database
from tests.factories import Factory
from tests.fixtures.provenance import dataset_draft, process, send, team, worker_ctx

pytestmark = pytest.mark.postgres

FILES = 8


def _point(lon: float, lat: float) -> bytes:
    feature = {"type": "Feature", "properties": {"n": 1}}
    feature["geometry"] = {"type": "Point", "coordinates": [lon, lat]}
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Any, Settings]]:
    with postgres_database("satreps_race") as url:
        upgrade(url)
        engine = make_engine(url)
        settings = Settings(database_url=url, object_dir=tmp_path / "objects")
        try:
            yield session_factory(engine), settings
        finally:
            await engine.dispose()


async def test_files_of_one_version_finishing_at_once_all_become_ready(world) -> None:
    sessions, settings = world
    store = store_from_settings(settings)
    await store.ensure_buckets()
    try:
        async with sessions() as session:
            account = await ensure_account(session, "race-admin", AccountRole.ADMIN)
            await session.commit()
        factory = Factory(sessions, Principal(account_id=account.id, role=AccountRole.ADMIN))
        who = await team(sessions, factory)
        _, version_id = await dataset_draft(sessions, who)
        # one place each, 100.0-107.0 E along 15 N: the version's box is their union
        ids = [
            await send(sessions, store, who, version_id, f"p{i}.geojson", _point(100.0 + i, 15))
            for i in range(FILES)
        ]
        ctx = worker_ctx(sessions, store, settings)
        outcomes = await asyncio.gather(*(process(ctx, i) for i in ids), return_exceptions=True)
        assert outcomes == ["ready"] * FILES
        async with sessions() as session:
            states = (await session.scalars(select(Upload.state).where(Upload.id.in_(ids)))).all()
            version = await session.get(DatasetVersion, version_id)
        assert set(states) == {UploadState.READY}
        assert version is not None
        assert (version.west, version.east) == (100.0, 100.0 + FILES - 1)  # every file counted
    finally:
        store.close()
