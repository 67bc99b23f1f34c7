"""Uploads end to end in embedded mode: signed URLs of the server, in-process processing."""

from __future__ import annotations

import hashlib

from server.models.enums import InstitutionRole, ProjectPhase
from tests.factories import gid

CREATE = """mutation($input: CreateDatasetInput!) {
  createDataset(input: $input) { dataset { id draft { id } } errors { code } } }"""
START = """mutation($v: ID!, $name: String!, $size: Long!, $sha: String) {
  startUpload(datasetVersionId: $v, filename: $name, byteSize: $size, sha256: $sha) {
    upload { id state filename declaredSize }
    instructions { putUrl partSize partCount parts { partNumber url } }
    errors { field code message } } }"""
COMPLETE = """mutation($u: ID!) { completeUpload(uploadId: $u) {
    upload { id state errorCode errorMessage size } errors { field code message } } }"""
ABORT = (
    """mutation($u: ID!) { abortUpload(uploadId: $u) { upload { state } errors { field code } } }"""
)
PUBLISH = """mutation($v: ID!) { publishDatasetVersion(versionId: $v) { errors { code } } }"""
UPLOAD = """query($u: ID!) { node(id: $u) { ... on DatasetUpload {
    state attempts errorCode errorMessage sha256 size detectedFormat } } }"""
WARNINGS = """query($u: ID!) { node(id: $u) { ... on DatasetUpload {
    state warnings { code message } } } }"""
VERSION = """query($v: ID!) { node(id: $v) { ... on DatasetVersion {
    files { nodes { name size sha256 format mediaType } } } } }"""
CSV = b"station,date,level_m\nBKK-01,2023-01-01,1.52\nBKK-01,2023-01-02,1.61\nAYU-07,2023-01-01,\n"


def codes(payload: dict) -> set[tuple[str | None, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


async def draft_version(admin, factory) -> str:
    project = await factory.project(phase=ProjectPhase.IMPLEMENTATION, countries=("TH",))
    inst = await factory.institution("JP")
    await factory.link(project.id, inst.id, InstitutionRole.JAPANESE_LEAD)
    given = {
        "projectId": gid("Project", project.id),
        "ownerInstitutionId": gid("Institution", inst.id),
        "title": "River levels",
        "licence": "CC-BY-4.0",
    }
    return (await admin(CREATE, {"input": given}))["createDataset"]["dataset"]["draft"]["id"]


async def send(client, url: str, body: bytes):
    return await client.put(url.removeprefix("http://testserver"), content=body)


async def upload_file(admin, client, version: str, name: str, body: bytes, sha: str | None = None):
    started = (await admin(START, {"v": version, "name": name, "size": len(body), "sha": sha}))[
        "startUpload"
    ]
    assert started["errors"] == [], started
    response = await send(client, started["instructions"]["putUrl"], body)
    assert response.status_code == 200, response.text
    return started["upload"]["id"]


async def test_csv_upload_becomes_a_ready_profiled_file(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    upload = await upload_file(
        admin, client, version, "levels.csv", CSV, hashlib.sha256(CSV).hexdigest()
    )
    done = (await admin(COMPLETE, {"u": upload}))["completeUpload"]
    assert done["errors"] == [] and done["upload"]["state"] == "QUEUED"
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": upload}))["node"]
    assert state["state"] == "READY", state
    assert state["sha256"] == hashlib.sha256(CSV).hexdigest() and state["size"] == len(CSV)
    assert state["detectedFormat"] == "csv" and state["attempts"] == 1
    files = (await admin(VERSION, {"v": version}))["node"]["files"]["nodes"]
    assert files == [
        {
            "name": "levels.csv",
            "size": len(CSV),
            "sha256": hashlib.sha256(CSV).hexdigest(),
            "format": "csv",
            "mediaType": files[0]["mediaType"],
        }
    ]
    assert (await admin(PUBLISH, {"v": version}))["publishDatasetVersion"]["errors"] == []
    # a published version takes no more uploads
    late = (await admin(START, {"v": version, "name": "late.csv", "size": 3}))["startUpload"]
    assert codes(late) == {("datasetVersionId", "VERSION_PUBLISHED")}  # the argument sent


async def test_checksum_mismatch_fails_with_a_code(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    upload = await upload_file(admin, client, version, "levels.csv", CSV, "0" * 64)
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": upload}))["node"]
    assert state["state"] == "FAILED" and state["errorCode"] == "CHECKSUM_MISMATCH"
    assert (await admin(VERSION, {"v": version}))["node"]["files"]["nodes"] == []


async def test_bad_declarations_are_refused_at_start(admin, factory):
    version = await draft_version(admin, factory)
    cases = [
        ({"name": "empty.csv", "size": 0}, {("byteSize", "EMPTY_FILE")}),
        ({"name": "../../etc/passwd", "size": 5}, {("filename", "PATH_PARENT_SEGMENT")}),
        ({"name": "a\x00b.csv", "size": 5}, {("filename", "INVALID_FILENAME")}),
        ({"name": "x" * 300 + ".csv", "size": 5}, {("filename", "NAME_TOO_LONG")}),
        ({"name": "ok.csv", "size": 5, "sha": "xyz"}, {("sha256", "INVALID_SHA256")}),
        ({"name": "huge.bin", "size": 10**15}, {("byteSize", "TOO_LARGE")}),
    ]
    for given, expected in cases:
        payload = (await admin(START, {"v": version, **given}))["startUpload"]
        assert payload["upload"] is None and codes(payload) == expected, given
    ok = (await admin(START, {"v": version, "name": "データ 2023.csv", "size": 5}))["startUpload"]
    assert ok["errors"] == [] and ok["upload"]["filename"] == "データ 2023.csv"
    dup = (await admin(START, {"v": version, "name": "データ 2023.csv", "size": 5}))["startUpload"]
    assert codes(dup) == {("filename", "DUPLICATE_NAME")}


async def test_truncated_upload_and_completing_twice(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "cut.csv", "size": len(CSV)}))[
        "startUpload"
    ]
    short = await send(client, started["instructions"]["putUrl"], CSV[:10])
    assert short.status_code == 400 and short.json()["error"]["code"] == "SIZE_MISMATCH"
    upload = started["upload"]["id"]
    early = (await admin(COMPLETE, {"u": upload}))["completeUpload"]
    assert codes(early) == {("uploadId", "NOT_UPLOADED")}
    assert (await send(client, started["instructions"]["putUrl"], CSV)).status_code == 200
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    again = (await admin(COMPLETE, {"u": upload}))["completeUpload"]
    assert codes(again) == {("uploadId", "INVALID_UPLOAD_STATE")}
    await jobs.drain()
    assert (await admin(UPLOAD, {"u": upload}))["node"]["state"] == "READY"


async def test_signed_urls_are_checked(admin, factory, client):
    version = await draft_version(admin, factory)
    started = (await admin(START, {"v": version, "name": "a.csv", "size": len(CSV)}))["startUpload"]
    url = started["instructions"]["putUrl"]
    tampered = url.replace("signature=", "signature=0")
    assert (await send(client, tampered, CSV)).status_code == 403
    assert (await send(client, url.split("?")[0], CSV)).status_code == 400
    aborted = (await admin(ABORT, {"u": started["upload"]["id"]}))["abortUpload"]
    assert aborted["upload"]["state"] == "ABORTED"
    assert (await send(client, url, CSV)).status_code == 409


async def test_large_files_go_in_parts(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    size = 70 * 1024 * 1024  # above the single-PUT limit of 64 MiB
    started = (await admin(START, {"v": version, "name": "big.bin", "size": size}))["startUpload"]
    assert started["errors"] == []
    instructions = started["instructions"]
    assert instructions["putUrl"] is None and instructions["partCount"] == 5
    part_size = instructions["partSize"]
    upload = started["upload"]["id"]
    missing = (await admin(COMPLETE, {"u": upload}))["completeUpload"]
    assert codes(missing) == {("uploadId", "PARTS_MISSING")}
    block = bytes(range(256)) * (part_size // 256)
    received = "query($u: ID!) { upload(id: $u) { partCount partsReceived { partNumber size } } }"
    for part in instructions["parts"]:
        n = part["partNumber"]
        body = block if n < 5 else block[: size - part_size * 4]
        assert (await send(client, part["url"], body)).status_code == 200
        if n == 2:  # an interrupted client asks what arrived, to send only the rest
            state = (await admin(received, {"u": upload}))["upload"]
            assert state["partCount"] == 5
            assert state["partsReceived"] == [
                {"partNumber": 1, "size": part_size},
                {"partNumber": 2, "size": part_size},
            ]
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": upload}))["node"]
    assert state["state"] == "READY" and state["size"] == size


def zip_bomb() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            block = bytes(1024 * 1024)
            for _ in range(64):  # 64 MiB of zeros: about 64 KiB compressed
                member.write(block)
    return buffer.getvalue()


BAD_FILES = {
    "corrupt.parquet": (b"PAR1" + b"\x00garbage" * 100 + b"PAR1", "UNREADABLE"),
    "bomb.zip": (None, "ZIP_BOMB"),
}


async def test_bad_files_fail_with_a_code_and_leave_nothing_visible(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    uploads = {}
    for name, (body, _) in BAD_FILES.items():
        body = body if body is not None else zip_bomb()
        uploads[name] = await upload_file(admin, client, version, name, body)
        assert (await admin(COMPLETE, {"u": uploads[name]}))["completeUpload"]["errors"] == []
    await jobs.drain()
    for name, (_, code) in BAD_FILES.items():
        state = (await admin(UPLOAD, {"u": uploads[name]}))["node"]
        assert (state["state"], state["errorCode"]) == ("FAILED", code), (name, state)
    assert (await admin(VERSION, {"v": version}))["node"]["files"]["nodes"] == []


async def test_messy_csv_is_read_not_rejected(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    messy = "station,name,level\nA,Müller,1\nB,Nguyễn,2,EXTRA\nC,Ørsted,3\n".encode()
    messy += "D,Gon\xe7alves,4\n".encode("latin-1")  # a Latin-1 line in a UTF-8 file
    upload = await upload_file(admin, client, version, "messy.csv", messy)
    assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    assert (await admin(UPLOAD, {"u": upload}))["node"]["state"] == "READY"
    query = f'{{ node(id: "{version}") {{ ... on DatasetVersion {{ files {{ nodes {{ profile preview }} }} }} }} }}'
    file = (await admin(query))["node"]["files"]["nodes"][0]
    assert file["profile"]["rows"] == 3  # the ragged row is skipped and counted
    assert file["profile"]["skipped_rows"] == 1
    assert [row["name"] for row in file["preview"]] == ["Müller", "Ørsted", "Gonçalves"]
    warnings = (await admin(WARNINGS, {"u": upload}))["node"]["warnings"]
    assert [w["code"] for w in warnings] == ["RAGGED_ROWS", "ENCODING_FALLBACK"]
    assert "expected 3 fields, got 4" in warnings[0]["message"]


async def test_a_clean_file_has_no_warnings_and_a_binary_csv_one(admin, factory, client, jobs):
    version = await draft_version(admin, factory)
    clean = await upload_file(admin, client, version, "levels.csv", CSV)
    binary = await upload_file(admin, client, version, "b.csv", b"a,b\n\x00\x01\x02\x03\n")
    for upload in (clean, binary):
        assert (await admin(COMPLETE, {"u": upload}))["completeUpload"]["errors"] == []
    await jobs.drain()
    assert (await admin(WARNINGS, {"u": clean}))["node"]["warnings"] == []
    state = (await admin(WARNINGS, {"u": binary}))["node"]
    assert state["state"] == "READY" and [w["code"] for w in state["warnings"]] == ["NOT_TEXT"]
    listed = f'{{ node(id: "{version}") {{ ... on DatasetVersion {{ uploads {{ warnings {{ code }} }} }} }} }}'
    uploads = (await admin(listed))["node"]["uploads"]
    assert uploads == [{"warnings": []}, {"warnings": [{"code": "NOT_TEXT"}]}]
