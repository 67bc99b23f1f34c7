"""PUT /uploads/{id}: the embedded mode's stand-in for presigned object-store URLs.

Only signed, unexpired URLs issued by startUpload/refreshUploadUrls are accepted; the body
is streamed into the local object store (never held in memory)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.core.url_signing import UrlSigner
from server.models import Upload
from server.models.enums import UploadState
from server.storage import ObjectExists, ObjectStore, SizeMismatch, StorageError, StorageFull


class UploadUrlCode(StrEnum):
    """The codes of the upload endpoint's refusals (`{"error": {"code", "message"}}`)."""

    BAD_URL = "BAD_URL"
    URL_REFUSED = "URL_REFUSED"
    INVALID_UPLOAD_STATE = "INVALID_UPLOAD_STATE"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    OBJECT_EXISTS = "OBJECT_EXISTS"
    STORAGE_ERROR = "STORAGE_ERROR"
    STORAGE_FULL = "STORAGE_FULL"


# how long a client waits before sending the bytes again after a 507 or a 503
RETRY_AFTER_SECONDS = 30


def _error(
    status: int, code: UploadUrlCode, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


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
            return _error(400, UploadUrlCode.BAD_URL, "not an upload URL issued by this server")
        if problem := signer.verify(upload_id, part, expires, signature):
            return _error(403, UploadUrlCode.URL_REFUSED, problem)
        async with sessions() as session:
            upload = await session.get(Upload, upload_id)
        if upload is None or upload.state != UploadState.AWAITING_UPLOAD:
            return _error(
                409, UploadUrlCode.INVALID_UPLOAD_STATE, "this upload no longer accepts bytes"
            )
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
                    return _error(400, UploadUrlCode.BAD_URL, "this upload is not multipart")
                received = await store.write_part(
                    bucket, key, upload.multipart_id, part, request.stream()
                )
                etag = received.etag
        except SizeMismatch as error:
            return _error(400, UploadUrlCode.SIZE_MISMATCH, str(error))
        except ObjectExists as error:
            return _error(409, UploadUrlCode.OBJECT_EXISTS, str(error)[:300])
        except StorageFull as error:  # nothing was kept: the same PUT succeeds once there is room
            retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return _error(507, UploadUrlCode.STORAGE_FULL, str(error)[:300], retry)
        except StorageError as error:
            status = 503 if error.transient else 400
            return _error(status, UploadUrlCode.STORAGE_ERROR, str(error)[:300])
        return Response(status_code=200, headers={"ETag": f'"{etag}"'})

    return put
