"""Fault 5 at the download end (embedded mode, the local store; SQLite and PostgreSQL): a
file whose stored bytes were altered or deleted behind the server's back is not served."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import select
from strawberry.relay import to_base64

from server.core.db import utcnow
from server.core.metrics import ROOT_FIELDS
from server.http.guard import DownloadCorrupted
from server.models import AuditEvent, DatasetFile, DatasetVersion
from server.storage import store_from_settings
from tests.fixtures.compiled_world import answer
from tests.fixtures.downloads import DOWNLOAD, download_url, stored_file
from tests.fixtures.provenance import CSV


async def test_altered_file_is_never_served_whole_then_refused(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    file_id, path, token = await stored_file(gql, sessions, settings, factory, make_token)
    reader = gql.as_(token)
    url = await download_url(reader, file_id)
    response = await gql.http.get(url)
    assert response.status_code == 200 and response.content == CSV

    # behind the server's back, same size: only the hash can tell
    path.chmod(0o644)
    path.write_bytes(CSV.replace(b"1.52", b"9.99"))
    with pytest.raises(DownloadCorrupted):  # the stream breaks off before its last chunk
        await gql.http.get(url)

    # the download recorded the failure: the same URL and any new one are refused
    refused = await gql.http.get(url)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "FIXITY_FAILED"
    (error,) = await reader.errors(DOWNLOAD, {"f": to_base64("DatasetFile", file_id)})
    assert error["extensions"]["code"] == "FIXITY_FAILED"
    async with sessions() as session:
        row = await session.get(DatasetFile, file_id)
        assert row is not None and row.fixity_outcome == "mismatch"
        codes = (
            await session.scalars(
                select(AuditEvent.code).where(
                    AuditEvent.target_type == "DatasetFile", AuditEvent.target_id == file_id
                )
            )
        ).all()
    assert codes.count("FIXITY_FAILED") >= 2  # the check and the refused URL


async def test_deleted_or_resized_file_is_refused_before_a_byte(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    file_id, path, token = await stored_file(gql, sessions, settings, factory, make_token)
    url = await download_url(gql.as_(token), file_id)
    path.chmod(0o644)
    path.write_bytes(CSV + b"extra\n")
    refused = await gql.http.get(url)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "FIXITY_FAILED")

    other, path, token = await stored_file(gql, sessions, settings, factory, make_token)
    url = await download_url(gql.as_(token), other)
    os.unlink(path)
    refused = await gql.http.get(url)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "FIXITY_FAILED")
    async with sessions() as session:
        row = await session.get(DatasetFile, other)
        assert row is not None and row.fixity_outcome == "missing"


VERSION_FIXITY = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
  fixity { lastCheckedAt outcome checkedFiles failedFiles } } } }"""
DATASET_FIXITY = """query($d: ID!) { node(id: $d) { ... on Dataset {
  versions { number fixity { outcome checkedFiles failedFiles } } } } }"""


async def test_version_fixity_in_the_api(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    """Both read paths (SATREPS_TEST_DIFFERENTIAL compares them) give the same summary."""
    from server.provenance.fixity_schedule import run_due

    file_id, path, token = await stored_file(gql, sessions, settings, factory, make_token)
    reader = gql.as_(token)
    async with sessions() as session:
        row = await session.get(DatasetFile, file_id)
        version = await session.get(DatasetVersion, row.version_id)
    v = {"v": to_base64("DatasetVersion", version.id)}
    d = {"d": to_base64("Dataset", version.dataset_id)}
    unchecked = {"lastCheckedAt": None, "outcome": None, "checkedFiles": 0, "failedFiles": 0}
    assert (await reader(VERSION_FIXITY, v))["node"]["fixity"] == unchecked

    store = store_from_settings(settings)
    try:
        await run_due(sessions, store, checked_before=utcnow())
        fixity = (await reader(VERSION_FIXITY, v))["node"]["fixity"]
        assert (fixity["outcome"], fixity["checkedFiles"], fixity["failedFiles"]) == ("OK", 1, 0)
        assert fixity["lastCheckedAt"] is not None

        path.chmod(0o644)
        path.write_bytes(CSV.replace(b"1.52", b"9.99"))
        await run_due(sessions, store, checked_before=utcnow())
    finally:
        store.close()
    versions = (await reader(DATASET_FIXITY, d))["node"]["versions"]
    assert [v["fixity"] for v in versions] == [
        {"outcome": "MISMATCH", "checkedFiles": 1, "failedFiles": 1}
    ]
    # the compiled path answers them itself (the differential run alone would pass were
    # they left to strawberry)
    resolved = ROOT_FIELDS.labels("resolved")
    for query, variables in ((VERSION_FIXITY, v), (DATASET_FIXITY, d)):
        before = resolved._value.get()
        status, body = await answer(gql.http, token, query, variables)
        assert status == 200 and "errors" not in body, body
        assert resolved._value.get() == before, query
