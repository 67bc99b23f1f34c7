"""HEAD and single Ranges on the downloads the embedded server answers itself (a dataset
file's signed URL, a provenance export's), on SQLite and PostgreSQL: 206 with
Content-Range, 416 outside the file or for a malformed range, If-Range and If-None-Match,
and the fixity refusal before any of them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from server.core.url_signing import UrlSigner
from server.provenance import ExportFormat
from server.provenance.export import Export, export_url
from server.storage import store_from_settings
from tests.fixtures.downloads import download_url, stored_file

BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
async def file_url(
    gql: Any, sessions: Any, settings: Any, factory: Any, make_token: Any
) -> tuple[str, Path]:
    file_id, path, token = await stored_file(
        gql, sessions, settings, factory, make_token, body=BODY
    )
    return await download_url(gql.as_(token), file_id), path


async def test_get_head_and_ranges_of_a_file(gql: Any, file_url: tuple[str, Path]) -> None:
    url, _ = file_url
    http: httpx.AsyncClient = gql.http
    whole = await http.get(url)
    assert whole.status_code == 200 and whole.content == BODY
    assert whole.headers["accept-ranges"] == "bytes"
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]
    assert etag.startswith('"') and len(etag) == 66  # the file's sha256, quoted

    head = await http.head(url)
    assert head.status_code == 200 and head.content == b""
    for name in ("content-length", "etag", "last-modified", "content-type", "accept-ranges"):
        assert head.headers[name] == whole.headers[name], name

    for value, start, end in (
        ("bytes=0-99", 0, 99),
        ("bytes=10000-", 10000, 10239),
        ("bytes=-40", 10200, 10239),
        ("bytes=10200-99999", 10200, 10239),
    ):
        part = await http.get(url, headers={"Range": value})
        assert part.status_code == 206, value
        assert part.content == BODY[start : end + 1], value
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(BODY)}"
        assert part.headers["content-length"] == str(end - start + 1)
        head = await http.head(url, headers={"Range": value})
        assert head.status_code == 206 and head.content == b""
        assert head.headers["content-range"] == part.headers["content-range"]

    # several ranges: the whole body, 200
    many = await http.get(url, headers={"Range": "bytes=0-1,5-6"})
    assert many.status_code == 200 and many.content == BODY

    # If-Range: the range while the validator holds, the whole file once it does not
    for validator in (etag, modified):
        held = await http.get(url, headers={"Range": "bytes=5-9", "If-Range": validator})
        assert (held.status_code, held.content) == (206, BODY[5:10])
    stale = await http.get(url, headers={"Range": "bytes=5-9", "If-Range": '"stale"'})
    assert (stale.status_code, stale.content) == (200, BODY)

    cached = await http.get(url, headers={"If-None-Match": etag})
    assert cached.status_code == 304 and cached.content == b""


async def test_bad_ranges_are_416(gql: Any, file_url: tuple[str, Path]) -> None:
    url, _ = file_url
    for value, code in (
        ("bytes=10240-", "RANGE_NOT_SATISFIABLE"),  # the first byte past the end
        ("bytes=20000-30000", "RANGE_NOT_SATISFIABLE"),
        ("bytes=-0", "RANGE_NOT_SATISFIABLE"),
        ("bytes=abc", "INVALID_RANGE"),
        ("bytes=50-10", "INVALID_RANGE"),
    ):
        for method in ("GET", "HEAD"):
            refused = await gql.http.request(method, url, headers={"Range": value})
            assert refused.status_code == 416, (method, value)
            assert refused.headers["content-range"] == f"bytes */{len(BODY)}"
            if method == "GET":
                assert refused.json()["error"]["code"] == code, value


async def test_a_range_of_an_altered_file_is_refused(gql: Any, file_url: tuple[str, Path]) -> None:
    url, path = file_url
    path.chmod(0o644)
    path.write_bytes(BODY[:100])  # shrunk behind the server's back
    refused = await gql.http.get(url, headers={"Range": "bytes=5000-"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "FIXITY_FAILED")
    # recorded: every later answer, a HEAD too, is refused before a byte
    again = await gql.http.head(url, headers={"Range": "bytes=0-9"})
    assert again.status_code == 409


async def test_head_and_ranges_of_an_export(gql: Any, settings: Any) -> None:
    store = store_from_settings(settings)
    await store.ensure_buckets()
    signer = UrlSigner.from_file(Path(settings.object_dir) / ".satreps" / "url-key")
    text = '{"prov": "' + "x" * 1000 + '"}'
    export = Export(ExportFormat.PROV_JSON, "application/json", "prov.json", text)
    version = SimpleNamespace(dataset_id=1, number=1)
    try:
        url = await export_url(store, signer, version, export, dt.timedelta(minutes=5))  # type: ignore[arg-type]
    finally:
        store.close()
    whole = await gql.http.get(url)
    assert whole.status_code == 200 and whole.text == text
    head = await gql.http.head(url)
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len(text))
    assert head.headers["etag"] == whole.headers["etag"]
    part = await gql.http.get(url, headers={"Range": "bytes=2-5"})
    assert (part.status_code, part.content) == (206, text[2:6].encode())
    assert part.headers["content-range"] == f"bytes 2-5/{len(text)}"
    outside = await gql.http.get(url, headers={"Range": f"bytes={len(text)}-"})
    assert outside.status_code == 416
    assert outside.headers["content-range"] == f"bytes */{len(text)}"
