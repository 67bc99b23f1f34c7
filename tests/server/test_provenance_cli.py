"""`satreps export` and `satreps fixity` as an operator runs them: a subprocess each, on a
database and object directory a real pipeline run filled."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from strawberry.relay import to_base64

from server.access.auth import Principal, ensure_account
from server.core.config import Settings
from server.core.db import make_engine, session_factory
from server.migrations import upgrade
from server.models.enums import AccountRole
from server.provenance import ExportFormat
from server.provenance.documents import parse_prov
from server.storage import store_from_settings
from tests.factories import Factory
from tests.fixtures.provenance import CSV, dataset_draft, process, publish, send, team, worker_ctx

SATREPS = str(Path(sys.executable).with_name("satreps"))


async def satreps(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SATREPS_")}
    env.update(
        SATREPS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp / 'cli.db'}",
        SATREPS_OBJECT_DIR=str(tmp / "objects"),
        COLUMNS="200",
        NO_COLOR="1",
    )
    return await asyncio.to_thread(
        subprocess.run,
        [SATREPS, *args],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_export_and_fixity_commands(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    settings = Settings(database_url=url, object_dir=tmp_path / "objects")
    store = store_from_settings(settings)
    await store.ensure_buckets()
    async with sessions() as session:
        account = await ensure_account(session, "curator", AccountRole.ADMIN)
        await session.commit()
    factory = Factory(sessions, Principal(account_id=account.id, role=AccountRole.ADMIN))
    who = await team(sessions, factory)
    _, version = await dataset_draft(sessions, who)
    upload = await send(sessions, store, who, version)
    assert await process(worker_ctx(sessions, store, settings), upload) == "ready"
    await publish(sessions, who, version)
    store.close()
    await engine.dispose()

    done = await satreps(tmp_path, "export", str(version), "--format", "prov-n")
    assert done.returncode == 0, done.stderr
    document = parse_prov(done.stdout, ExportFormat.PROV_N)
    assert any(f"publish-{version}" in str(r.identifier) for r in document.get_records())
    crate = tmp_path / "crate.json"
    global_id = to_base64("DatasetVersion", version)
    done = await satreps(tmp_path, "export", global_id, "-f", "ro-crate", "-o", str(crate))
    assert done.returncode == 0, done.stderr
    assert json.loads(crate.read_text())["@context"].startswith("https://w3id.org/ro/crate/")

    refused = await satreps(tmp_path, "export", "999999")
    assert refused.returncode == 1 and "not found" in refused.stderr
    bad = await satreps(tmp_path, "export", "banana")
    assert bad.returncode == 2 and "not a DatasetVersion id" in bad.stderr
    bad = await satreps(tmp_path, "export", str(version), "--format", "xml")
    assert bad.returncode == 2

    checked = await satreps(tmp_path, "fixity", str(version))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "fixity ok: 1 file(s)" in checked.stdout
    raw = next((tmp_path / "objects" / settings.bucket_raw).rglob("levels.csv"))
    raw.write_bytes(CSV[:-2] + b"9\n")
    checked = await satreps(tmp_path, "fixity", str(version))
    assert checked.returncode == 1 and "FAILED  levels.csv: sha256" in checked.stdout
    assert "fixity mismatch" in checked.stdout

    # --all: what was not checked since the date (everything checked above was)
    checked = await satreps(tmp_path, "fixity", "--all", "--since", "2000-01-01")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "fixity: 0 object(s)" in checked.stdout
    checked = await satreps(tmp_path, "fixity", "--all", "--rate", "0")  # since now: all
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "fixity: 1 object(s)" in checked.stdout
    assert "FAILED  version" in checked.stdout and "levels.csv: sha256" in checked.stdout
    neither = await satreps(tmp_path, "fixity")
    assert neither.returncode == 2 and "VERSION_ID or --all" in neither.stderr
    prov_copy = tmp_path / "objects" / settings.bucket_provenance / "datasets"
    assert any(p.name == "prov.json" for p in prov_copy.rglob("*"))
