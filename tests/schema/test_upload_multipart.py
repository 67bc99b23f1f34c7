"""Small files through the API: the GraphQL multipart request spec (as apollo-upload-client
and gql send it), behind a CSRF preflight header and a size cap."""

from __future__ import annotations

import hashlib
import json

from urllib3 import encode_multipart_formdata

from tests.schema.test_uploads import CSV, UPLOAD, VERSION, draft_version

UPLOAD_FILE = """mutation($v: ID!, $file: Upload!, $sha: String) {
  uploadFile(datasetVersionId: $v, file: $file, sha256: $sha) {
    upload { id state filename size } errors { field code message } } }"""


def form(version: str, body: bytes, name: str = "levels.csv", sha: str | None = None):
    operations = {"query": UPLOAD_FILE, "variables": {"v": version, "file": None, "sha": sha}}
    return {
        "data": {
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": (name, body, "text/csv")},
    }


async def test_multipart_upload_is_processed_like_any_other(
    admin, factory, client, jobs, make_token
):
    version = await draft_version(admin, factory)
    headers = {"Authorization": f"Bearer {admin.token}", "Apollo-Require-Preflight": "true"}
    sha = hashlib.sha256(CSV).hexdigest()
    response = await client.post("/graphql", headers=headers, **form(version, CSV, sha=sha))
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["uploadFile"]
    assert payload["errors"] == [] and payload["upload"]["state"] == "QUEUED"
    await jobs.drain()
    state = (await admin(UPLOAD, {"u": payload["upload"]["id"]}))["node"]
    assert state["state"] == "READY" and state["sha256"] == sha
    assert [
        f["name"] for f in (await admin(VERSION, {"v": version}))["node"]["files"]["nodes"]
    ] == ["levels.csv"]


async def test_multipart_needs_the_preflight_header(admin, factory, client):
    version = await draft_version(admin, factory)
    headers = {"Authorization": f"Bearer {admin.token}"}
    response = await client.post("/graphql", headers=headers, **form(version, CSV))
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_PREFLIGHT_REQUIRED"


async def test_multipart_size_cap_and_bad_names(admin, factory, client, settings):
    version = await draft_version(admin, factory)
    headers = {"Authorization": f"Bearer {admin.token}", "Apollo-Require-Preflight": "true"}
    settings.max_api_upload_bytes = 1000
    big = await client.post("/graphql", headers=headers, **form(version, b"x" * 2000))
    assert big.status_code == 413
    bad = await client.post("/graphql", headers=headers, **form(version, CSV, name="../../x.csv"))
    assert bad.status_code == 200
    errors = bad.json()["data"]["uploadFile"]["errors"]
    assert errors[0]["code"] == "PATH_PARENT_SEGMENT"
    empty = await client.post("/graphql", headers=headers, **form(version, b"", name="empty.csv"))
    assert empty.json()["data"]["uploadFile"]["errors"][0]["code"] == "EMPTY_FILE"


INLINE = """mutation($v: ID!) {
  uploadFile(datasetVersionId: $v, file: "levels.csv") {
    upload { id } errors { field code message } } }"""


async def test_a_value_where_the_file_goes_is_refused_with_a_code(admin, factory, client):
    """Found by the schemathesis run: `file: ""` inline (no multipart part) reached the
    resolver as a str and failed there, masked as "Unexpected error."."""
    version = await draft_version(admin, factory)
    payload = (await admin(INLINE, {"v": version}))["uploadFile"]
    assert payload["upload"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [("file", "REQUIRED")]
    assert "multipart" in payload["errors"][0]["message"]
    operations = {"query": UPLOAD_FILE, "variables": {"v": version, "file": "text", "sha": None}}
    body, content_type = encode_multipart_formdata(
        [("operations", json.dumps(operations)), ("map", "{}")]
    )
    headers = {
        "Authorization": f"Bearer {admin.token}",
        "Apollo-Require-Preflight": "true",
        "Content-Type": content_type,
    }
    as_variable = await client.post("/graphql", headers=headers, content=body)
    assert as_variable.status_code == 200, as_variable.text
    errors = as_variable.json()["data"]["uploadFile"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("file", "REQUIRED")]
