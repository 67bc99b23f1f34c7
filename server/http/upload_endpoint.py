"""PUT /uploads/{id}: the embedded mode's stand-in for presigned object-store URLs.

Only signed, unexpired URLs issued by startUpload/refreshUploadUrls are accepted; the body
is streamed into the local object store (never held in memory)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.url_signing import UrlSigner
from server.models import Upload
from server.models.enums import UploadState
from server.storage import ObjectExists, ObjectStore, SizeMismatch, StorageError


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def upload_endpoint(
    sessions: async_sessionmaker[AsyncSession], store: ObjectStore, signer: UrlSigner
) -> Callable[[Request], Awaitable[Response]]:
    async def put(request: Request) -> Response:
        try:
            upload_id = int(request.path_params["upload_id"])
            expires = int(request.query_params["expires"])
            signature = request.query_params["signature"]
            part = int(request.query_params["part"]) if "part" in request.query_params else None
        except (KeyError, ValueError):
            return _error(400, "BAD_URL", "not an upload URL issued by this server")
        if problem := signer.verify(upload_id, part, expires, signature):
            return _error(403, "URL_REFUSED", problem)
        async with sessions() as session:
            upload = await session.get(Upload, upload_id)
        if upload is None or upload.state != UploadState.AWAITING_UPLOAD:
            return _error(409, "INVALID_UPLOAD_STATE", "this upload no longer accepts bytes")
        bucket, key = store.buckets.raw, upload.object_key
        try:
            if part is None:
                info = await store.put(
                    bucket,
                    key,
                    request.stream(),
                    size=upload.declared_size,
                    content_type=upload.content_type,
                )
                etag = info.etag
            else:
                if upload.multipart_id is None:
                    return _error(400, "BAD_URL", "this upload is not multipart")
                received = await store.write_part(
                    bucket, key, upload.multipart_id, part, request.stream()
                )
                etag = received.etag
        except SizeMismatch as error:
            return _error(400, "SIZE_MISMATCH", str(error))
        except ObjectExists as error:
            return _error(409, "OBJECT_EXISTS", str(error)[:300])
        except StorageError as error:
            return _error(503 if error.transient else 400, "STORAGE_ERROR", str(error)[:300])
        return Response(status_code=200, headers={"ETag": f'"{etag}"'})

    return put
