"""GET and HEAD /exports/{key}: a provenance export through the server's own signed URL, the
embedded mode's stand-in for a presigned GET (`provenanceExport { url }`).

The URL is the capability, issued to a caller who may read the version: only signed,
unexpired URLs are served, and only objects under the provenance bucket's exports/."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from server.core.url_signing import UrlSigner
from server.datasets.downloads import DownloadCode
from server.http import ranges
from server.http.ranges import RangeRefused, Representation
from server.storage import ObjectNotFound, ObjectStore, content_disposition

PREFIX = "exports/"


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def refused_url(
    request: Request, key: str, verify: Callable[[str, int, str], str | None], what: str
) -> JSONResponse | None:
    """The answer to a request whose `?expires=&signature=` this server did not sign for
    `key` (400 unparsable, 403 refused), or None for a good one."""
    try:
        expires = int(request.query_params["expires"])
        signature = request.query_params["signature"]
    except (KeyError, ValueError):
        return error_response(400, DownloadCode.BAD_URL, f"not {what} URL issued by this server")
    if problem := verify(key, expires, signature):
        return error_response(403, DownloadCode.URL_REFUSED, problem)
    return None


def export_endpoint(
    store: ObjectStore, signer: UrlSigner
) -> Callable[[Request], Awaitable[Response]]:
    async def get(request: Request) -> Response:
        key = PREFIX + str(request.path_params["key"])
        if refusal := refused_url(request, key, signer.verify_export, "an export"):
            return refusal
        info = await store.stat(store.buckets.provenance, key)
        if info is None:
            return error_response(404, DownloadCode.NOT_FOUND, "export not found")
        # the key holds the digest of the export's bytes (provenance.export.export_url)
        rep = Representation(
            info.size, hashlib.sha256(key.encode()).hexdigest()[:32], info.last_modified
        )
        if ranges.not_modified(request.headers, rep):
            return Response(status_code=304, headers=rep.headers())
        try:
            span = ranges.span_of(request.headers, rep)
        except RangeRefused as error:
            return ranges.refusal(error, rep)
        status, headers = ranges.framing(span, rep)
        headers["Content-Disposition"] = content_disposition(key.rsplit("/", 1)[-1])
        headers["Cache-Control"] = "private, no-store"
        media_type = info.content_type or "application/octet-stream"
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers, media_type=media_type)
        try:
            reader = await store.open_read(store.buckets.provenance, key, span.offset, span.length)
        except ObjectNotFound:
            return error_response(404, DownloadCode.NOT_FOUND, "export not found")
        return StreamingResponse(reader, status, headers, media_type)

    return get
