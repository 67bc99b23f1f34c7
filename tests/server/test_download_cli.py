"""`satreps download VERSION DIR` against a served app (uvicorn on loopback, the local
store; SQLite and PostgreSQL): every file verified, N in flight, a partial file continued
with a Range, a wrong partial found by its sha256 and fetched again, files left out by the
server listed with the exit status saying so."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from strawberry.relay import to_base64
from typer.testing import CliRunner

from server.core.db import session_factory
from server.http.cli import app
from server.http.download_client import PART, Downloader
from server.models import DatasetFile
from server.models.enums import AccountRole
from tests.fixtures.archives import FILES, stored_version

BIG = {**FILES, "big.bin": bytes(range(251)) * 20_000}  # 5 MB: several chunks


@pytest.fixture
def sessions(real_engine: Any) -> Any:
    """This module's database (tests/fixtures/live.py), not the rolled-back transaction."""
    return session_factory(real_engine)


def check(root: Path, files: dict[str, bytes]) -> None:
    found = {p.name: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert found == files


async def test_download_resume_and_verify(
    live_server: str, sessions: Any, settings: Any, factory: Any, make_token: Any, tmp_path: Path
) -> None:
    made = await stored_version(sessions, settings, factory, BIG)
    token = await make_token(AccountRole.ADMIN)
    url = f"http://{live_server}/graphql"
    vid = to_base64("DatasetVersion", made.version_id)
    root = tmp_path / "out"

    report = await Downloader(url, token, vid, root, jobs=3).run()
    assert report.exit_code == 0, report
    assert {o.status for o in report.files} == {"downloaded"}
    check(root, BIG)

    # again: everything is in place and verified, nothing fetched
    report = await Downloader(url, token, vid, root).run()
    assert {o.status for o in report.files} == {"present"}

    # an interrupted file: its first 1,000,003 bytes are kept and the rest asked for
    big = root / "big.bin"
    big.unlink()
    (root / ("big.bin" + PART)).write_bytes(BIG["big.bin"][:1_000_003])
    report = await Downloader(url, token, vid, root).run()
    (resumed,) = [o for o in report.files if o.path == "big.bin"]
    assert (resumed.status, resumed.bytes) == ("resumed", len(BIG["big.bin"]) - 1_000_003)
    check(root, BIG)

    # a partial file that is not the file's beginning: found by the sha256, removed
    big.unlink()
    (root / ("big.bin" + PART)).write_bytes(b"\xff" * 1000)
    report = await Downloader(url, token, vid, root).run()
    (failed,) = report.failed
    assert (failed.path, failed.code) == ("big.bin", "SHA256_MISMATCH")
    assert report.exit_code == 2
    assert not (root / ("big.bin" + PART)).exists()
    report = await Downloader(url, token, vid, root).run()  # and fetched whole next time
    assert report.exit_code == 0
    assert hashlib.sha256(big.read_bytes()).hexdigest() == made.files["big.bin"].sha256


async def test_the_command_and_the_files_left_out(
    live_server: str, sessions: Any, settings: Any, factory: Any, make_token: Any, tmp_path: Path
) -> None:
    made = await stored_version(sessions, settings, factory)
    async with sessions() as session:
        await session.execute(
            update(DatasetFile)
            .where(DatasetFile.id == made.files["notes.txt"].id)
            .values(fixity_outcome="missing")
        )
        await session.commit()
    token = await make_token(AccountRole.ADMIN)
    root = tmp_path / "cli"
    args = ["download", f"DatasetVersion:{made.version_id}", str(root), "--jobs", "2"]
    args += ["--url", f"http://{live_server}/graphql", "--token", token, "--prefix", "raw-"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 0, result.output
    check(root, {k: v for k, v in FILES.items() if k.startswith("raw-")})

    args[-1] = ""  # every file: notes.txt is left out
    result = await asyncio.to_thread(CliRunner().invoke, app, args)
    assert result.exit_code == 3, result.output
    assert "left out: notes.txt: FIXITY_FAILED" in result.output
    check(root, {k: v for k, v in FILES.items() if k != "notes.txt"})

    refused = await asyncio.to_thread(
        CliRunner().invoke, app, [*args[:-4], "--token", "not-a-token"]
    )
    assert refused.exit_code == 1 and "error:" in refused.output
