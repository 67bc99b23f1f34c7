"""The embedded upload endpoint's lookup of the upload a PUT names (UploadLookup).

On a SQLite file it reads on a synchronous, read-only connection of its own; these tests
drive it through a real `satreps serve` (every state the endpoint refuses, the sizes it
refuses, nothing kept of a refused body) and on its own (the row it returns, the writes its
connection refuses, the async session where there is no file to open)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.core.db import make_engine, session_factory
from server.http.upload_endpoint import UploadLookup
from server.migrations import upgrade
from tests.fixtures.served import new_dataset
from tests.schema.test_uploads import ABORT, COMPLETE, START
from tests.test_examples import Server, graphql

BODY = b"station,date,level_m\nBKK-01,2023-01-01,1.52\n"


def started(server: Server, token: str, version: str, name: str, body: bytes) -> tuple[str, str]:
    sha = hashlib.sha256(body).hexdigest()
    given = {"v": version, "name": name, "size": len(body), "sha": sha}
    payload = graphql(server, token, START, **given)["startUpload"]
    assert payload["errors"] == [], payload
    return payload["upload"]["id"], payload["instructions"]["putUrl"]


def refusal(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def objects_under(server: Server) -> list[Path]:
    raw = server.workdir / "objects" / "satreps-raw"
    return sorted(p for p in raw.rglob("*") if p.is_file()) if raw.exists() else []


def test_a_put_is_taken_only_while_its_upload_awaits_bytes(
    server: Server, token: str, project: tuple[str, str]
) -> None:
    _, version = new_dataset(server, token, project)
    gid, url = started(server, token, version, "levels.csv", BODY)
    assert httpx.put(url, content=BODY).status_code == 200
    assert graphql(server, token, COMPLETE, u=gid)["completeUpload"]["errors"] == []
    assert refusal(httpx.put(url, content=BODY)) == (409, "INVALID_UPLOAD_STATE")

    aborted, aborted_url = started(server, token, version, "gone.csv", BODY)
    assert graphql(server, token, ABORT, u=aborted)["abortUpload"]["errors"] == []
    before = objects_under(server)
    assert refusal(httpx.put(aborted_url, content=BODY)) == (409, "INVALID_UPLOAD_STATE")
    assert objects_under(server) == before  # nothing of an aborted upload is kept


def test_a_small_body_of_the_wrong_size_is_refused_whole(
    server: Server, token: str, project: tuple[str, str]
) -> None:
    _, version = new_dataset(server, token, project)
    gid, url = started(server, token, version, "levels.csv", BODY)
    before = objects_under(server)
    assert refusal(httpx.put(url, content=BODY + b"x" * 5000)) == (400, "SIZE_MISMATCH")
    assert refusal(httpx.put(url, content=BODY[:-1])) == (400, "SIZE_MISMATCH")
    assert objects_under(server) == before
    tmp = server.workdir / "objects" / ".satreps" / "tmp"
    assert list(tmp.glob("*")) == []
    assert httpx.put(url, content=BODY).status_code == 200  # the same URL, the right bytes
    assert graphql(server, token, COMPLETE, u=gid)["completeUpload"]["errors"] == []


@pytest.fixture
async def sqlite_file(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lookup.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    await engine.dispose()


async def test_on_a_sqlite_file_the_row_comes_from_a_read_only_connection(
    sqlite_file: AsyncEngine,
) -> None:
    lookup = UploadLookup(session_factory(sqlite_file))
    try:
        assert lookup.engine is not None
        assert await lookup(12345) is None
        with lookup.engine.connect() as connection, pytest.raises(Exception, match="readonly"):
            connection.execute(text("CREATE TABLE nope (x INTEGER)"))
    finally:
        lookup.close()


async def test_sessions_bound_to_a_connection_read_through_the_session(sessions) -> None:
    lookup = UploadLookup(sessions)
    assert lookup.engine is None
    assert await lookup(12345) is None
