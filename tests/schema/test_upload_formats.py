"""Research formats end to end (embedded mode: in-process jobs, local object store): native
readers run in their sandbox, and what they make of real sample files (tests/workers/data)."""

from __future__ import annotations

from pathlib import Path

import h5py
import pytest
from sqlalchemy import select
from strawberry.relay import from_base64

from server.core.config import Settings
from server.models import Upload
from server.storage import store_from_settings
from tests.schema.test_uploads import COMPLETE, CSV, draft_version, upload_file
from workers.processing import native

DATA = Path(__file__).parents[1] / "workers" / "data"
H5PY_DATA = Path(h5py.__file__).parent / "tests" / "data_files"
FAULTS = "tests.fixtures.extractors"
STATE = """query($u: ID!) { node(id: $u) { ... on DatasetUpload {
    state errorCode errorMessage detectedFormat warnings { code message } } } }"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite+aiosqlite:///unused.db",
        object_dir=tmp_path / "objects",
        prov_copy_window_seconds=0.05,
        extractor_cpu_seconds=4,
        extractor_memory_mb=768,
        extractor_timeout_seconds=60,
    )


async def test_crashing_hanging_and_greedy_readers_fail_their_upload_not_the_worker(
    admin, factory, client, jobs, sessions, settings, monkeypatch
):
    monkeypatch.setitem(native.EXTRACTORS, "netcdf", f"{FAULTS}:segfault")
    monkeypatch.setitem(native.EXTRACTORS, "hdf5", f"{FAULTS}:spin")
    monkeypatch.setitem(native.EXTRACTORS, "xlsx", f"{FAULTS}:hog")
    version = await draft_version(admin, factory)
    files = {
        "model.nc": ((DATA / "example_1.nc").read_bytes(), "EXTRACTOR_CRASHED"),
        "strings.h5": ((H5PY_DATA / "vlen_string_dset.h5").read_bytes(), "EXTRACTOR_TIMEOUT"),
        "fruit.xlsx": ((DATA / "table-multiple.xlsx").read_bytes(), "TOO_COMPLEX"),
        "levels.csv": (CSV, None),  # queued last: the worker is alive and takes it
    }
    uploads = {}
    for name, (body, _) in files.items():
        uploads[name] = await upload_file(admin, client, version, name, body)
        assert (await admin(COMPLETE, {"u": uploads[name]}))["completeUpload"]["errors"] == []
    await jobs.drain()

    store = store_from_settings(settings)
    for name, (_, code) in files.items():
        state = (await admin(STATE, {"u": uploads[name]}))["node"]
        if code is None:
            assert state["state"] == "READY", state
            continue
        assert (state["state"], state["errorCode"]) == ("FAILED", code), (name, state)
        async with sessions() as session:
            row = await session.scalar(
                select(Upload).where(Upload.id == int(from_base64(uploads[name])[1]))
            )
        assert await store.exists(store.buckets.raw, row.object_key)  # the raw bytes stay
