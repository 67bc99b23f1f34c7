"""PUT /uploads/{id}: the embedded mode's stand-in for presigned object-store URLs.

Only signed, unexpired URLs issued by startUpload/refreshUploadUrls are accepted; the body
is streamed into the local object store (a body declared at most WHOLE_BODY_MAX, 1 MiB, is
read whole first; a larger one is never held in memory)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, Row, bindparam, create_engine, event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
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


# a body declared this small is read whole before the store is called: one trip to the
# store's threads instead of one per chunk (a folder's small files)
WHOLE_BODY_MAX = 1024 * 1024


async def _body(request: Request, declared: int) -> bytes:
    """The request's body, read no further than one byte past what was declared (the store
    then refuses the size)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > declared:
            break
    return b"".join(chunks)


def _error(
    status: int, code: UploadUrlCode, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


# what a PUT needs of its upload
_ROW = select(
    Upload.state, Upload.object_key, Upload.declared_size, Upload.content_type, Upload.multipart_id
).where(Upload.id == bindparam("id"))


UploadRow = Row[UploadState, str, int, str | None, str | None]


class UploadLookup:
    """The upload row a PUT names (state, key, declared size, content type, multipart id).

    On a SQLite file (the embedded default, where this endpoint serves every file of a
    folder) the one statement runs on a plain synchronous connection (pysqlite, read-only,
    its own small pool) in one trip to a thread: through the async session it was a string
    of aiosqlite trips that cost 3 ms of the server's CPU a PUT under load, more than the
    write of a small file (bench/upload_folder.py). Elsewhere, and for sessions bound to a
    connection (the tests' transaction), the async session runs it."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.engine: Engine | None = None
        bind = sessions.kw.get("bind")
        if isinstance(bind, AsyncEngine) and bind.dialect.name == "sqlite":
            database = bind.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self.engine = create_engine(bind.url.set(drivername="sqlite+pysqlite"))
                event.listen(self.engine, "connect", _read_only)

    async def __call__(self, upload_id: int) -> UploadRow | None:
        if self.engine is not None:
            return await asyncio.to_thread(self._read, self.engine, upload_id)
        async with self.sessions() as session:
            return (await session.execute(_ROW, {"id": upload_id})).first()

    @staticmethod
    def _read(engine: Engine, upload_id: int) -> UploadRow | None:
        with engine.connect() as connection:
            return connection.execute(_ROW, {"id": upload_id}).first()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA query_only=ON")


def upload_endpoint(
    lookup: UploadLookup, store: ObjectStore, signer: UrlSigner
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
        upload = await lookup(upload_id)
        if upload is None or upload.state != UploadState.AWAITING_UPLOAD:
            return _error(
                409, UploadUrlCode.INVALID_UPLOAD_STATE, "this upload no longer accepts bytes"
            )
        bucket, key = store.buckets.raw, upload.object_key
        try:
            if part is None:
                small = upload.declared_size <= WHOLE_BODY_MAX
                info = await store.put(
                    bucket,
                    key,
                    await _body(request, upload.declared_size) if small else request.stream(),
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
