"""`satreps download` on a real S3 server (SeaweedFS): the files come straight from S3
through their presigned URLs, a partial file is continued with a Range S3 answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from strawberry.relay import to_base64

from server.core.config import Settings
from server.core.db import session_factory
from server.http.download_client import PART, Downloader
from server.models.enums import AccountRole
from tests.fixtures.archives import FILES, stored_version
from tests.fixtures.seaweed import SeaweedS3


@pytest.fixture
def settings(tmp_path: Path, seaweed: SeaweedS3) -> Settings:
    return seaweed.settings(tmp_path / "objects", database_url="sqlite+aiosqlite:///unused.db")


@pytest.fixture
def sessions(real_engine: Any) -> Any:
    return session_factory(real_engine)


async def test_download_from_s3(
    live_server: str, sessions: Any, settings: Any, factory: Any, make_token: Any, tmp_path: Path
) -> None:
    made = await stored_version(sessions, settings, factory)
    token = await make_token(AccountRole.ADMIN)
    url = f"http://{live_server}/graphql"
    vid = to_base64("DatasetVersion", made.version_id)
    root = tmp_path / "out"
    name = "raw-station-07.txt"
    root.mkdir()
    (root / (name + PART)).write_bytes(FILES[name][:1234])
    report = await Downloader(url, token, vid, root, jobs=4).run()
    assert report.exit_code == 0, report
    statuses = {o.path: (o.status, o.bytes) for o in report.files}
    assert statuses[name] == ("resumed", len(FILES[name]) - 1234)
    assert {p.name: p.read_bytes() for p in root.iterdir()} == FILES
