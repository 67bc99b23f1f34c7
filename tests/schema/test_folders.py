"""Issue 23 folders: a file keeps its path inside its version, normalised and checked, each
refusal with its own code; two paths of a version may not differ only by case."""

from __future__ import annotations

import unicodedata

from tests.schema.test_uploads import COMPLETE, START, codes, draft_version, upload_file

FILES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    files { name path size } uploads { filename path state } } } }"""
CSV = b"station,level\nBKK-01,1.5\n"


async def start(admin, version: str, name: str, size: int = 5) -> dict:
    return (await admin(START, {"v": version, "name": name, "size": size}))["startUpload"]


async def test_each_bad_path_has_its_own_code(admin, factory):
    version = await draft_version(admin, factory)
    cases = {
        "x" * 2000: "PATH_TOO_LONG",
        "a/" * 511 + "b.csv": "PATH_TOO_LONG",  # 1,027 characters
        "../x": "PATH_PARENT_SEGMENT",
        "raw/../../x.csv": "PATH_PARENT_SEGMENT",
        "/etc/passwd": "PATH_ABSOLUTE",
        "C:/data/x.csv": "PATH_ABSOLUTE",
        "raw/./x.csv": "PATH_DOT_SEGMENT",
        "raw//x.csv": "PATH_EMPTY_SEGMENT",
        "raw/": "PATH_EMPTY_SEGMENT",
        "raw/ x.csv": "PATH_EMPTY_SEGMENT",
        "raw/a\x00b.csv": "INVALID_FILENAME",
        "raw/a\x1bb.csv": "INVALID_FILENAME",
        "raw/" + "é" * 200 + ".csv": "NAME_TOO_LONG",  # 404 bytes in one segment
        "  ": "REQUIRED",
    }
    for path, code in cases.items():
        payload = await start(admin, version, path)
        assert payload["upload"] is None, path
        assert codes(payload) == {("filename", code)}, path
    # at the limits: 1,024 characters, 255 bytes in a segment
    edge = "/".join(["d" * 255] * 3 + ["d" * 254]) + "/x"  # 1,024 characters
    assert len(edge) == 1024
    assert (await start(admin, version, edge))["errors"] == []


async def test_paths_are_normalised(admin, factory):
    version = await draft_version(admin, factory)
    decomposed = unicodedata.normalize("NFD", "raw\\データ\\café.csv")
    payload = await start(admin, version, decomposed)
    assert payload["errors"] == []
    assert payload["upload"]["filename"] == "café.csv"
    uploads = (await admin(FILES, {"v": version}))["node"]["uploads"]
    assert uploads[0]["path"] == "raw/データ/café.csv"
    assert uploads[0]["path"] == unicodedata.normalize("NFC", uploads[0]["path"])


async def test_case_clashes_and_duplicates_are_refused(admin, factory):
    version = await draft_version(admin, factory)
    assert (await start(admin, version, "raw/Station-07/log.csv"))["errors"] == []
    clash = await start(admin, version, "RAW/station-07/LOG.csv")
    assert codes(clash) == {("filename", "PATH_CASE_CLASH")}
    assert "only by case" in clash["errors"][0]["message"]
    dup = await start(admin, version, "raw/Station-07/log.csv")
    assert codes(dup) == {("filename", "DUPLICATE_NAME")}
    # the same name in another folder is another file
    assert (await start(admin, version, "raw/station-08/log.csv"))["errors"] == []
    # ß folds to ss
    assert (await start(admin, version, "raw/straße.csv"))["errors"] == []
    assert codes(await start(admin, version, "raw/STRASSE.csv")) == {
        ("filename", "PATH_CASE_CLASH")
    }


async def test_a_file_in_folders_becomes_ready_with_its_path(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    for path in ("raw/2024/station-07/log.csv", "raw/2024/station-08/log.csv"):
        upload = await upload_file(admin, client, version, path, CSV)
        assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    node = (await admin(FILES, {"v": version}))["node"]
    assert {u["state"] for u in node["uploads"]} == {"READY"}
    assert sorted((f["path"], f["name"]) for f in node["files"]) == [
        ("raw/2024/station-07/log.csv", "log.csv"),
        ("raw/2024/station-08/log.csv", "log.csv"),
    ]
    # READY files still hold their paths: a case clash with one of them is refused
    clash = await start(admin, version, "Raw/2024/Station-07/log.csv")
    assert codes(clash) == {("filename", "PATH_CASE_CLASH")}
