"""Issue 23 folders: a file keeps its path inside its version, normalised and checked, each
refusal with its own code; two paths of a version may not differ only by case."""

from __future__ import annotations

import unicodedata

from tests.schema.test_uploads import COMPLETE, START, codes, draft_version, upload_file

FILES = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    files { nodes { name path size } } uploads { filename path state } } } }"""
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
    assert sorted((f["path"], f["name"]) for f in node["files"]["nodes"]) == [
        ("raw/2024/station-07/log.csv", "log.csv"),
        ("raw/2024/station-08/log.csv", "log.csv"),
    ]
    # READY files still hold their paths: a case clash with one of them is refused
    clash = await start(admin, version, "Raw/2024/Station-07/log.csv")
    assert codes(clash) == {("filename", "PATH_CASE_CLASH")}


PAGE = """query($v: ID!, $first: Int, $after: String, $prefix: String, $format: String) {
  node(id: $v) { ... on DatasetVersion {
    files(first: $first, after: $after, prefix: $prefix, format: $format) {
      totalCount edges { cursor node { path name size } } nodes { path }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } } }"""
DIRECTORIES = """query($v: ID!, $prefix: String) { node(id: $v) { ... on DatasetVersion {
    directories(prefix: $prefix) { name path fileCount byteSize } } } }"""
TREE = [
    ("raw/2024/station-07/log.csv", 10, "csv"),
    ("raw/2024/station-07/photo.jpg", 100, "image"),
    ("raw/2024/station-08/log.csv", 20, "csv"),
    ("raw/2025/station-07/log.csv", 30, "csv"),
    ("Raw-notes.txt", 5, None),
    ("readme.md", 7, None),
    ("rawdata.csv", 1, "csv"),  # starts with "raw" but is not in raw/
]


async def folder_version(admin, factory, sessions) -> str:
    from server.models import DatasetFile

    version = await draft_version(admin, factory)
    version_id = int(__import__("base64").b64decode(version).decode().split(":")[1])
    async with sessions() as session:
        session.add_all(
            DatasetFile(
                version_id=version_id,
                name=path.rsplit("/", 1)[-1],
                path=path,
                size=size,
                sha256="0" * 64,
                format=fmt,
                raw_key=f"k/{i}",
            )
            for i, (path, size, fmt) in enumerate(TREE)
        )
        await session.commit()
    return version


async def both(compiled_client, strawberry_client, token, query, variables, *, refused=False):
    """The answer of the compiled path, after checking strawberry's is the same and that the
    compiled path answered the root field itself (not when strawberry's refusal is due)."""
    from server.core.metrics import ROOT_FIELDS
    from tests.fixtures.compiled_world import answer

    resolved = ROOT_FIELDS.labels("resolved")
    before = resolved._value.get()
    compiled = await answer(compiled_client, token, query, variables)
    python = "directories" in query or "uploadCounts" in query  # strawberry's resolvers
    assert refused or python or resolved._value.get() == before, variables
    assert compiled == await answer(strawberry_client, token, query, variables)
    assert compiled[0] == 200, compiled
    return compiled[1]


async def test_files_are_a_keyset_connection_on_both_paths(
    admin, factory, sessions, compiled_client, strawberry_client
):
    version = await folder_version(admin, factory, sessions)

    async def files(**args):
        body = await both(
            compiled_client, strawberry_client, admin.token, PAGE, {"v": version, **args}
        )
        assert "errors" not in body, body
        return body["data"]["node"]["files"]

    every = await files()
    assert every["totalCount"] == len(TREE) and [n["path"] for n in every["nodes"]] == [
        p for p, _, _ in TREE
    ]
    # pages of 2 walk the whole list by cursor
    seen, after = [], None
    while True:
        page = await files(first=2, after=after)
        seen += [e["node"]["path"] for e in page["edges"]]
        assert page["totalCount"] == len(TREE)
        assert page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [p for p, _, _ in TREE]
    # a folder, exactly (case and all); a folder and a format
    under = await files(prefix="raw/2024/")
    assert [n["path"] for n in under["nodes"]] == [p for p, _, _ in TREE[:3]]
    assert (await files(prefix="RAW/"))["totalCount"] == 0
    assert (await files(prefix="raw"))["totalCount"] == 5  # a plain prefix: rawdata.csv too
    logs = await files(prefix="raw/", format="csv", first=1)
    assert logs["totalCount"] == 3 and logs["nodes"] == [{"path": TREE[0][0]}]
    assert logs["pageInfo"]["hasNextPage"] is True
    # refusals: strawberry's errors on both paths
    for bad in ({"first": 1001}, {"first": -1}, {"after": "bm90IGEgY3Vyc29y"}):
        body = await both(
            compiled_client,
            strawberry_client,
            admin.token,
            PAGE,
            {"v": version, **bad},
            refused=True,
        )
        code = body["errors"][0]["extensions"]["code"]
        assert code in ("INVALID_PAGE_SIZE", "INVALID_CURSOR"), body


async def test_directories_list_the_folders_right_under_a_prefix(
    admin, factory, sessions, compiled_client, strawberry_client
):
    version = await folder_version(admin, factory, sessions)

    async def folders(prefix=None):
        variables = {"v": version, "prefix": prefix}
        body = await both(compiled_client, strawberry_client, admin.token, DIRECTORIES, variables)
        return body["data"]["node"]["directories"]

    assert await folders() == [{"name": "raw", "path": "raw/", "fileCount": 4, "byteSize": 160}]
    assert await folders("raw") == await folders("raw/")
    assert await folders("raw/") == [
        {"name": "2024", "path": "raw/2024/", "fileCount": 3, "byteSize": 130},
        {"name": "2025", "path": "raw/2025/", "fileCount": 1, "byteSize": 30},
    ]
    assert [f["name"] for f in await folders("raw/2024/")] == ["station-07", "station-08"]
    assert await folders("raw/2024/station-07/") == []
    assert await folders("nowhere/") == []


async def test_an_outsider_sees_no_files_of_a_hidden_version(
    admin, factory, sessions, gql, compiled_client, strawberry_client
):
    version = await folder_version(admin, factory, sessions)
    body = await both(compiled_client, strawberry_client, None, PAGE, {"v": version})
    assert body["data"]["node"] is None


COUNTS = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    uploadCounts { state count } } } }"""


async def test_upload_counts_by_state_on_both_paths(
    admin, factory, client, jobs, compiled_client, strawberry_client
):
    """What a client waiting for a folder polls: the version's uploads counted by state,
    the states with any, in the order of an upload's life; nothing for an outsider."""
    version = await draft_version(admin, factory)

    async def counts(token=admin.token):
        body = await both(compiled_client, strawberry_client, token, COUNTS, {"v": version})
        assert "errors" not in body, body
        node = body["data"]["node"]
        return None if node is None else [(c["state"], c["count"]) for c in node["uploadCounts"]]

    assert await counts() == []
    for name in ("raw/a.csv", "raw/b.csv", "raw/c.csv"):
        assert (await start(admin, version, name))["errors"] == []
    assert await counts() == [("AWAITING_UPLOAD", 3)]
    upload = await upload_file(admin, client, version, "raw/d.csv", CSV)
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    assert await counts() == [("AWAITING_UPLOAD", 3), ("QUEUED", 1)]
    await jobs.drain()
    assert await counts() == [("AWAITING_UPLOAD", 3), ("READY", 1)]
    assert await counts(None) is None
