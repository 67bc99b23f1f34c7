"""A whole version (or a prefix) as a streamed ZIP or BagIt bag, through versionDownload's
signed URL, on the local store (SQLite and PostgreSQL): the manifest, the RO-Crate of what
is inside, only the files the caller may read (the rest listed with why), HEAD, the
fixity refusal before and during the stream."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import bagit
import pytest
from sqlalchemy import update

from server.datasets.zipping import ArchiveCorrupted
from server.models import Dataset, DatasetFile
from server.models.enums import AccessLevel, AccountRole
from tests.fixtures.archives import (
    FILES,
    check_zip,
    manifest_of,
    stored_version,
    version_download,
)


async def test_a_version_as_a_zip(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    made = await stored_version(sessions, settings, factory)
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    download = await version_download(admin, made.version_id)
    assert download["fileCount"] == len(FILES) and download["leftOut"] == []
    assert download["byteSize"] == sum(len(b) for b in FILES.values())
    assert {f["path"] for f in download["files"]} == set(FILES)

    response = await gql.http.get(download["archiveUrl"])  # no token: the URL is the key
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert int(response.headers["content-length"]) == len(response.content)
    archive = check_zip(response.content, FILES)
    crate = json.loads(archive.read("ro-crate-metadata.json"))
    in_crate = {e["@id"]: e for e in crate["@graph"] if e.get("@type") == "File"}
    assert set(FILES) <= set(in_crate)
    assert in_crate["levels.csv"]["sha256"] == made.files["levels.csv"].sha256
    assert json.loads(archive.read("prov.json"))["entity"]

    head = await gql.http.head(download["archiveUrl"])
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == response.headers["content-length"]
    # no Range on an archive: the whole of it
    ranged = await gql.http.get(download["archiveUrl"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 200 and ranged.headers["accept-ranges"] == "none"

    # each file's own URL serves its bytes
    for file in download["files"]:
        fetched = await gql.http.get(file["url"])
        assert fetched.content == FILES[file["path"]]


async def test_a_prefix_and_a_bag(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any, tmp_path: Path
) -> None:
    made = await stored_version(sessions, settings, factory)
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    download = await version_download(admin, made.version_id, prefix="raw-")
    raw = {k: v for k, v in FILES.items() if k.startswith("raw-")}
    assert {f["path"] for f in download["files"]} == set(raw)
    check_zip((await gql.http.get(download["archiveUrl"])).content, raw)

    bag = await version_download(admin, made.version_id, format="BAGIT")
    body = (await gql.http.get(bag["archiveUrl"])).content
    zipfile.ZipFile(io.BytesIO(body)).extractall(tmp_path / "bag")
    (root,) = (tmp_path / "bag").iterdir()
    found = bagit.Bag(str(root))
    found.validate()  # manifests, tag manifest, Payload-Oxum: raises when anything is off
    assert found.is_valid()
    assert (root / "data" / "ro-crate-metadata.json").exists()
    for name, data in FILES.items():
        assert (root / "data" / name).read_bytes() == data


async def test_only_the_readable_files_with_the_rest_listed(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    made = await stored_version(sessions, settings, factory)
    failed = made.files["raw-station-08.txt"]
    async with sessions() as session:
        await session.execute(
            update(DatasetFile).where(DatasetFile.id == failed.id).values(fixity_outcome="mismatch")
        )
        await session.commit()
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    download = await version_download(admin, made.version_id)
    ((left,),) = [download["leftOut"]]
    assert (left["path"], left["code"]) == ("raw-station-08.txt", "FIXITY_FAILED")
    readable = {k: v for k, v in FILES.items() if k != "raw-station-08.txt"}
    archive = check_zip((await gql.http.get(download["archiveUrl"])).content, readable)
    manifest = archive.read("manifest-sha256.txt").decode()
    assert "# FIXITY_FAILED  raw-station-08.txt" in manifest

    # embargoed: a programme manager sees the version, not its data
    until = dt.date.today() + dt.timedelta(days=30)
    async with sessions() as session:
        await session.execute(
            update(Dataset)
            .where(Dataset.id == made.dataset_id)
            .values(access_level=AccessLevel.EMBARGOED, embargo_until=until)
        )
        await session.commit()
    manager = gql.as_(await make_token(AccountRole.PROGRAM_MANAGER))
    download = await version_download(manager, made.version_id)
    assert download["files"] == [] and download["fileCount"] == 0
    reasons = {x["path"]: (x["code"], x["message"]) for x in download["leftOut"]}
    assert set(reasons) == set(FILES)
    assert reasons["levels.csv"] == ("FORBIDDEN", f"embargoed until {until}")
    archive = check_zip((await gql.http.get(download["archiveUrl"])).content, {})
    assert manifest_of(archive) == {}
    assert (
        f"# FORBIDDEN  levels.csv  embargoed until {until}"
        in archive.read("manifest-sha256.txt").decode()
    )
    crate = json.loads(archive.read("ro-crate-metadata.json"))
    assert not [e for e in crate["@graph"] if e["@id"] == "levels.csv"]


async def test_refusals(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    from strawberry.relay import to_base64

    from tests.fixtures.archives import DOWNLOAD_VERSION

    made = await stored_version(sessions, settings, factory, {"a.csv": b"a,b\n1,2\n"})
    vid = to_base64("DatasetVersion", made.version_id)
    outsider = gql.as_(await make_token(AccountRole.RESEARCHER))
    async with sessions() as session:  # a project's dataset: invisible to others
        await session.execute(
            update(Dataset)
            .where(Dataset.id == made.dataset_id)
            .values(access_level=AccessLevel.INSTITUTION)
        )
        await session.commit()
    found = (await outsider(DOWNLOAD_VERSION, {"i": {"versionId": vid}}))["versionDownload"]
    assert [e["code"] for e in found["errors"]] == ["NOT_FOUND"]
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    long = {"i": {"versionId": vid, "prefix": "x" * 2000}}
    found = (await admin(DOWNLOAD_VERSION, long))["versionDownload"]
    assert [e["code"] for e in found["errors"]] == ["TOO_LONG"]

    download = await version_download(admin, made.version_id)
    url = download["archiveUrl"]
    tampered = url.replace("expires=", "expires=1")
    assert (await gql.http.get(tampered)).status_code == 403
    assert (await gql.http.get(url.split("?")[0])).status_code == 400


async def test_a_file_altered_after_the_url_breaks_the_stream_then_is_left_out(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    made = await stored_version(sessions, settings, factory)
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    download = await version_download(admin, made.version_id)
    altered = made.files["raw-station-07.txt"]
    path = Path(settings.object_dir) / settings.bucket_raw / altered.raw_key
    path.chmod(0o644)
    path.write_bytes(b"\x00" * len(FILES["raw-station-07.txt"]))  # same size
    with pytest.raises(ArchiveCorrupted):
        await gql.http.get(download["archiveUrl"])
    # recorded: the same URL now leaves the file out, and says why
    again = await gql.http.get(download["archiveUrl"])
    readable = {k: v for k, v in FILES.items() if k != "raw-station-07.txt"}
    archive = check_zip(again.content, readable)
    assert "# FIXITY_FAILED  raw-station-07.txt" in archive.read("manifest-sha256.txt").decode()


async def test_files_keep_their_folders_in_the_archive(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> None:
    """Two files of one name in two folders (issue 23's paths): both in the ZIP at their
    paths, and a prefix selects a folder."""
    files = {"station-07/log.csv": b"t,level\n1,1.5\n", "station-08/log.csv": b"t,level\n1,2.5\n"}
    made = await stored_version(sessions, settings, factory, files)
    admin = gql.as_(await make_token(AccountRole.ADMIN))
    download = await version_download(admin, made.version_id)
    assert {f["path"] for f in download["files"]} == set(files)
    check_zip((await gql.http.get(download["archiveUrl"])).content, files)
    one = await version_download(admin, made.version_id, prefix="station-08/")
    assert [f["path"] for f in one["files"]] == ["station-08/log.csv"]
    check_zip(
        (await gql.http.get(one["archiveUrl"])).content,
        {"station-08/log.csv": files["station-08/log.csv"]},
    )
