"""Issue 23 batch uploads: startUploads declares many files of a draft in one call and
completeUploads completes many; a bad entry gets its own errors and the others proceed;
nothing of a refused entry, or of a refused batch, is written."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from server.models import Upload
from tests.schema.test_uploads import draft_version, send

START = """mutation($v: ID!, $files: [UploadFileInput!]!) {
  startUploads(datasetVersionId: $v, files: $files) {
    entries { index upload { id path filename state } instructions { putUrl partCount }
              errors { field code message } }
    errors { field code message } } }"""
COMPLETE = """mutation($ids: [ID!]!) { completeUploads(uploadIds: $ids) {
    entries { index upload { id path state } errors { field code message } }
    errors { field code message } } }"""
FILES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    files(first: 100) { totalCount nodes { path sha256 } } } } }"""


def body(i: int) -> bytes:
    return f"station,level\nBKK-{i:02d},1.{i}\n".encode()


def entry(path: str, data: bytes) -> dict:
    return {"path": path, "byteSize": len(data), "sha256": hashlib.sha256(data).hexdigest()}


async def uploads_of(sessions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Upload)) or 0)


async def test_a_batch_with_bad_entries_keeps_the_good_ones(admin, factory, client, jobs, sessions):
    version = await draft_version(admin, factory)
    good = [f"raw/2024/station-{i:02d}/log.csv" for i in range(3)]
    files = [
        entry(good[0], body(0)),
        entry("../x", body(9)),  # climbs out
        entry(good[1], body(1)),
        entry("RAW/2024/STATION-00/LOG.csv", body(9)),  # a case clash within the batch
        entry(good[0], body(9)),  # the same path twice
        {"path": "raw/empty.csv", "byteSize": 0},
        entry(good[2], body(2)),
        entry("x" * 2000, body(9)),
    ]
    started = (await admin(START, {"v": version, "files": files}))["startUploads"]
    assert started["errors"] == []
    entries = started["entries"]
    assert [e["index"] for e in entries] == list(range(len(files)))
    refused = {
        e["index"]: [(x["field"], x["code"]) for x in e["errors"]] for e in entries if e["errors"]
    }
    assert refused == {
        1: [("path", "PATH_PARENT_SEGMENT")],
        3: [("path", "PATH_CASE_CLASH")],
        4: [("path", "DUPLICATE_NAME")],
        5: [("byteSize", "EMPTY_FILE")],
        7: [("path", "PATH_TOO_LONG")],
    }
    assert all(entries[i]["upload"] is None and entries[i]["instructions"] is None for i in refused)
    ok = [e for e in entries if not e["errors"]]
    assert [e["upload"]["path"] for e in ok] == good
    assert await uploads_of(sessions) == 3  # nothing of a refused entry was written
    for i, e in enumerate(ok):
        response = await send(client, e["instructions"]["putUrl"], body(i))
        assert response.status_code == 200, response.text
    # one more declared but never sent, and an id that is not one
    late = await admin(START, {"v": version, "files": [entry("late.csv", body(5))]})
    late_id = late["startUploads"]["entries"][0]["upload"]["id"]
    ids = [e["upload"]["id"] for e in ok] + ["not-an-id", late_id]
    completed = (await admin(COMPLETE, {"ids": ids}))["completeUploads"]
    assert completed["errors"] == []
    states = [(e["upload"] or {}).get("state") for e in completed["entries"]]
    assert states == ["QUEUED", "QUEUED", "QUEUED", None, None]
    codes = [[x["code"] for x in e["errors"]] for e in completed["entries"]]
    assert codes == [[], [], [], ["INVALID_ID"], ["NOT_UPLOADED"]]
    await jobs.drain()
    listed = (await admin(FILES, {"v": version}))["node"]["files"]
    assert listed["totalCount"] == 3
    assert listed["nodes"] == [
        {"path": p, "sha256": hashlib.sha256(body(i)).hexdigest()} for i, p in enumerate(good)
    ]
    # the one left behind can still be sent and completed alone
    again = (await admin(COMPLETE, {"ids": [late_id]}))["completeUploads"]["entries"][0]
    assert [x["code"] for x in again["errors"]] == ["NOT_UPLOADED"]


async def test_a_batch_over_the_limit_writes_nothing(admin, factory, sessions):
    version = await draft_version(admin, factory)
    files = [entry(f"f/{i}.csv", b"x") for i in range(1001)]
    refused = (await admin(START, {"v": version, "files": files}))["startUploads"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("files", "TOO_MANY_FILES")]
    assert refused["entries"] == [] and await uploads_of(sessions) == 0
    ids = ["x"] * 1001
    over = (await admin(COMPLETE, {"ids": ids}))["completeUploads"]
    assert [e["code"] for e in over["errors"]] == ["TOO_MANY_FILES"]


async def test_a_thousand_files_in_one_call(admin, factory, sessions):
    version = await draft_version(admin, factory)
    files = [entry(f"raw/{i // 100:02d}/{i:04d}.csv", body(i % 10)) for i in range(1000)]
    started = (await admin(START, {"v": version, "files": files}))["startUploads"]
    assert started["errors"] == [] and all(not e["errors"] for e in started["entries"])
    assert len({e["instructions"]["putUrl"] for e in started["entries"]}) == 1000
    assert await uploads_of(sessions) == 1000


async def test_a_batch_of_a_version_one_may_not_write_is_refused_whole(
    admin, factory, gql, sessions
):
    version = await draft_version(admin, factory)
    files = [entry("a.csv", b"x")]
    refused = (await gql(START, {"v": version, "files": files}))["startUploads"]
    assert refused["entries"] == [] and refused["errors"]
    assert await uploads_of(sessions) == 0


async def sent_batch(admin, client, version: str, count: int, prefix: str) -> list[str]:
    files = [entry(f"{prefix}/{i:04d}.csv", body(i % 10)) for i in range(count)]
    started = (await admin(START, {"v": version, "files": files}))["startUploads"]
    for i, e in enumerate(started["entries"]):
        response = await send(client, e["instructions"]["putUrl"], body(i % 10))
        assert response.status_code == 200, response.text
    return [e["upload"]["id"] for e in started["entries"]]


async def test_completing_a_batch_takes_as_many_statements_for_many_files_as_for_few(
    admin, factory, client, statements
):
    """completeUploads is set-based: its SQL does not grow with the batch (it took ~18 s
    for 1,000 files on SQLite when each upload ran its own dozen statements)."""
    version = await draft_version(admin, factory)
    counts = []
    for size, prefix in ((3, "few"), (30, "many")):
        ids = await sent_batch(admin, client, version, size, prefix)
        ids.append(ids[0])  # twice in one batch: the second is refused alone
        with statements.measure() as counted:
            done = (await admin(COMPLETE, {"ids": ids}))["completeUploads"]
        assert [e["upload"]["state"] for e in done["entries"][:-1]] == ["QUEUED"] * size
        assert [(x["field"], x["code"]) for x in done["entries"][-1]["errors"]] == [
            ("uploadIds", "INVALID_UPLOAD_STATE")
        ]
        counts.append(counted.count)
    assert counts[0] == counts[1], counts


async def test_a_later_batch_is_checked_against_the_paths_earlier_ones_declared(admin, factory):
    """taken_paths reads only the keys of the batch's own paths: a clash with a path an
    earlier batch declared (still on its way) is still found, by case and exactly."""
    version = await draft_version(admin, factory)
    first = [entry(f"raw/station-{i:02d}/log.csv", body(i)) for i in range(5)]
    started = (await admin(START, {"v": version, "files": first}))["startUploads"]
    assert [e["errors"] for e in started["entries"]] == [[]] * 5
    later = [
        entry("RAW/Station-03/LOG.csv", body(7)),
        entry("raw/station-04/log.csv", body(8)),
        entry("raw/station-05/log.csv", body(9)),
    ]
    entries = (await admin(START, {"v": version, "files": later}))["startUploads"]["entries"]
    assert [[(x["field"], x["code"]) for x in e["errors"]] for e in entries] == [
        [("path", "PATH_CASE_CLASH")],
        [("path", "DUPLICATE_NAME")],
        [],
    ]
