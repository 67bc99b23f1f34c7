"""GET /exports/{key}: a provenance export through the server's own signed URL, the
embedded mode's stand-in for a presigned GET (`provenanceExport { url }`).

The URL is the capability, issued to a caller who may read the version: only signed,
unexpired URLs are served, and only objects under the provenance bucket's exports/."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from server.core.url_signing import UrlSigner
from server.storage import ObjectNotFound, ObjectStore, content_disposition

PREFIX = "exports/"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def export_endpoint(
    store: ObjectStore, signer: UrlSigner
) -> Callable[[Request], Awaitable[Response]]:
    async def get(request: Request) -> Response:
        key = PREFIX + str(request.path_params["key"])
        try:
            expires = int(request.query_params["expires"])
            signature = request.query_params["signature"]
        except (KeyError, ValueError):
            return _error(400, "BAD_URL", "not an export URL issued by this server")
        if problem := signer.verify_export(key, expires, signature):
            return _error(403, "URL_REFUSED", problem)
        try:
            reader = await store.open_read(store.buckets.provenance, key)
        except ObjectNotFound:
            return _error(404, "NOT_FOUND", "export not found")
        headers = {
            "Content-Length": str(reader.length),
            "Content-Disposition": content_disposition(key.rsplit("/", 1)[-1]),
            "Cache-Control": "private, no-store",
        }
        media_type = reader.info.content_type or "application/octet-stream"
        return StreamingResponse(reader, media_type=media_type, headers=headers)

    return get
