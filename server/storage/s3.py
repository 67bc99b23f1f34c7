"""S3-compatible storage (MinIO, SeaweedFS, AWS) for production, through the minio SDK.

The SDK is synchronous; every call runs in the store's own, deliberately sized thread pool
(never the event loop's default executor), with an HTTP connection pool of the same size.
Clients PUT bytes straight to presigned URLs (whole objects or multipart parts).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar, cast

from server.storage.base import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PART_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    Buckets,
    MiB,
    ObjectInfo,
    ObjectReader,
    ObjectStore,
    PartInfo,
    PartList,
    PartRef,
    Source,
    check_part_number,
    normalise_parts,
    presign_expiry,
    range_length,
)
from server.storage.errors import (
    BucketNotFound,
    ObjectLocked,
    ObjectNotFound,
    SizeMismatch,
    StorageError,
    StoreUnavailable,
    UnsupportedOperation,
    UploadNotFound,
)
from server.storage.keys import check_bucket, check_key, check_metadata, content_disposition
from server.storage.s3_sdk import (
    LOCK_UNSUPPORTED_CODES,
    MinioMultipart,
    assembled,
    checksum_query,
    checksum_sha256,
    object_info,
    put_headers,
    response_info,
    storage_error,
)

log = logging.getLogger(__name__)


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _nothing() -> None:
    return None


class S3ObjectStore(ObjectStore):
    """S3-compatible storage (MinIO, SeaweedFS, AWS) through the minio SDK.

    Every SDK call runs in this store's own pool of `max_workers` threads (default 8: the
    SDK blocks on the network, and SeaweedFS is CPU-bound near 95 MB/s per PUT stream, so a
    few threads saturate it). An `ObjectReader` holds its HTTP connection until it is
    exhausted or closed: close readers you abandon. `put` streams: parts of `part_size` bytes
    are uploaded while the next one fills (at most about two parts in memory).
    """

    supports_presigned: ClassVar[bool] = True

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        *,
        secure: bool = True,
        region: str = "us-east-1",
        buckets: Buckets | None = None,
        raw_retention_days: int = 365,
        raw_retention_mode: str = "GOVERNANCE",
        max_workers: int = 8,
        part_size: int = DEFAULT_PART_SIZE,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        put_checksums: bool = True,
    ) -> None:
        import certifi
        import urllib3
        from minio import Minio

        super().__init__(buckets or Buckets(), max_workers=max_workers, chunk_size=chunk_size)
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between {MIN_PART_SIZE} and {MAX_PART_SIZE}")
        if raw_retention_days < 0:
            raise ValueError("raw_retention_days must not be negative")
        self.endpoint = endpoint
        self.region = region
        self.part_size = part_size
        if raw_retention_mode not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError("raw_retention_mode must be GOVERNANCE or COMPLIANCE")
        self.raw_retention_days = raw_retention_days
        self.raw_retention_mode = raw_retention_mode
        self.put_checksums = put_checksums
        self._http = urllib3.PoolManager(
            num_pools=4,
            # Open readers keep their connection between chunks while the thread is free
            # again, so keep more idle connections than threads; never block (deadlock).
            maxsize=max(2 * max_workers, 16),
            block=False,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            retries=urllib3.Retry(
                total=retries,
                connect=retries,
                read=retries,
                backoff_factor=0.2,
                status_forcelist=[500, 502, 503, 504],
            ),
        )
        # A fixed region keeps the SDK from asking the server for the bucket location, so
        # presigning is pure computation.
        self._client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=self._http,
        )
        self._multipart = MinioMultipart(self._client)

    def close(self) -> None:
        super().close()
        self._http.clear()

    def _translate(self, exc: BaseException) -> BaseException:
        return storage_error(exc, self.endpoint)

    # --- buckets ----------------------------------------------------------------------------

    def _ensure_sync(self) -> bool:
        from minio.error import S3Error
        from minio.objectlockconfig import DAYS, ObjectLockConfig

        client = self._client
        lock = False
        for name in self.buckets.all():
            is_raw = name == self.buckets.raw
            if not client.bucket_exists(name):
                try:
                    client.make_bucket(name, object_lock=is_raw)
                except S3Error as exc:
                    if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        pass  # another replica was faster
                    elif is_raw and exc.code in LOCK_UNSUPPORTED_CODES:
                        log.warning(
                            "object lock not supported by %s (%s): raw bucket %s is not WORM",
                            self.endpoint,
                            exc.code,
                            name,
                        )
                        client.make_bucket(name)
                    else:
                        raise
            if not is_raw:
                continue
            try:
                config = client.get_object_lock_config(name)
                lock = True
            except S3Error as exc:
                log.warning(
                    "raw bucket %s has no object lock (%s): raw objects are not write-once",
                    name,
                    exc.code,
                )
                continue
            wanted = ObjectLockConfig(self.raw_retention_mode, self.raw_retention_days, DAYS)
            if self.raw_retention_days and config != wanted:
                # the settings are the truth: a changed mode or period applies to objects
                # written from now on (those written before keep their own retention)
                try:
                    client.set_object_lock_config(name, wanted)
                except S3Error as exc:
                    log.warning("could not set default retention on %s: %s", name, exc.code)
        return lock

    async def ensure_buckets(self) -> None:
        self.supports_object_lock = await self._run(self._ensure_sync)

    async def check(self) -> None:
        exists = await self._run(self._client.bucket_exists, self.buckets.raw)
        if not exists:
            raise BucketNotFound(f"bucket {self.buckets.raw!r} does not exist")

    # --- objects ----------------------------------------------------------------------------

    def _put_small(
        self, bucket: str, key: str, data: bytes, content_type: str | None, meta: dict[str, str]
    ) -> ObjectInfo:
        digest = hashlib.sha256(data).hexdigest()
        result = self._client.put_object(
            bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type or "application/octet-stream",
            metadata=cast(Any, meta) or None,
        )
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=len(data),
            etag=(result.etag or "").strip('"'),
            sha256=digest,
            content_type=content_type or "application/octet-stream",
            version_id=result.version_id,
            metadata=meta,
        )

    async def put(
        self,
        bucket: str,
        key: str,
        data: Source,
        size: int | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        check_bucket(bucket)
        check_key(key)
        meta = check_metadata(metadata)
        size = self._source_size(data, size)
        if isinstance(data, bytes | bytearray | memoryview) and len(data) <= self.part_size:
            return await self._run(self._put_small, bucket, key, bytes(data), content_type, meta)
        part_size = self.part_size
        if size is not None and size > part_size * MAX_PARTS:
            part_size = -(-size // (MAX_PARTS * MiB)) * MiB  # whole MiB, at most MAX_PARTS
            if part_size > MAX_PART_SIZE:
                raise StorageError(f"object of {size} bytes is too large for S3")
        if isinstance(data, os.PathLike) and size is not None and size > part_size:
            return await self._put_file(bucket, key, data, size, part_size, content_type, meta)

        hasher = hashlib.sha256()
        buffer = bytearray()
        total = 0
        upload_id: str | None = None
        etags: list[tuple[int, str]] = []
        pending: asyncio.Future[str] | None = None

        async def flush(part: bytes) -> None:
            nonlocal upload_id, pending
            await self._run(hasher.update, part)
            if upload_id is None:
                upload_id = await self._run(
                    self._multipart.create, bucket, key, put_headers(content_type, meta)
                )
            if pending is not None:
                etags.append((len(etags) + 1, await pending))
            number = len(etags) + 1
            if number > MAX_PARTS:
                raise StorageError(f"more than {MAX_PARTS} parts of {part_size} bytes")
            pending = asyncio.ensure_future(
                self._run(self._multipart.upload_part, bucket, key, upload_id, number, part)
            )

        try:
            async for chunk in self._iter_source(data):
                buffer += chunk
                total += len(chunk)
                if size is not None and total > size:
                    raise SizeMismatch(f"expected {size} bytes, got more")
                while len(buffer) >= part_size:
                    with memoryview(buffer) as view:
                        part = bytes(view[:part_size])
                    del buffer[:part_size]
                    await flush(part)
            if size is not None and total != size:
                raise SizeMismatch(f"expected {size} bytes, got {total}")
            if upload_id is None:
                return await self._run(
                    self._put_small, bucket, key, bytes(buffer), content_type, meta
                )
            if buffer:
                await flush(bytes(buffer))
                buffer.clear()
            if pending is not None:
                etags.append((len(etags) + 1, await pending))
                pending = None
            result = await self._run(self._multipart.complete, bucket, key, upload_id, etags)
        except BaseException:
            if pending is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(pending)
            if upload_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._run(self._multipart.abort, bucket, key, upload_id))
            raise
        return assembled(bucket, key, total, result, hasher.hexdigest(), content_type, meta)

    async def _put_file(
        self,
        bucket: str,
        key: str,
        path: os.PathLike[str],
        size: int,
        part_size: int,
        content_type: str | None,
        meta: dict[str, str],
    ) -> ObjectInfo:
        """A local file, part by part: each part is read and sent by one pool thread, so a
        single part is in memory at a time (not a buffer, a part and a part in flight)."""
        hasher = hashlib.sha256()

        def send(number: int, offset: int) -> str:
            with open(path, "rb") as fh:
                fh.seek(offset)
                part = fh.read(part_size)
            if len(part) != min(part_size, size - offset):
                raise SizeMismatch(f"{path} shrank below {size} bytes while being stored")
            hasher.update(part)
            return self._multipart.upload_part(bucket, key, upload_id, number, part)

        upload_id: str = await self._run(
            self._multipart.create, bucket, key, put_headers(content_type, meta)
        )
        try:
            etags = [
                (number, await self._run(send, number, offset))
                for number, offset in enumerate(range(0, size, part_size), start=1)
            ]
            if os.stat(path).st_size != size:
                raise SizeMismatch(f"{path} changed size while being stored")
            result = await self._run(self._multipart.complete, bucket, key, upload_id, etags)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._run(self._multipart.abort, bucket, key, upload_id))
            raise
        return assembled(bucket, key, size, result, hasher.hexdigest(), content_type, meta)

    async def stat(self, bucket: str, key: str, *, checksum: bool = False) -> ObjectInfo | None:
        check_bucket(bucket)
        check_key(key)
        mode = {"x-amz-checksum-mode": "ENABLED"} if checksum else None
        try:
            obj = await self._run(self._client.stat_object, bucket, key, extra_headers=mode)
        except ObjectNotFound:
            return None
        info = object_info(bucket, key, obj)
        if not checksum:
            return info
        return dataclasses.replace(info, store_sha256=checksum_sha256(obj.metadata or {}))

    async def open_read(
        self, bucket: str, key: str, offset: int = 0, length: int | None = None
    ) -> ObjectReader:
        check_bucket(bucket)
        check_key(key)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must not be negative")
        if length == 0:  # minio reads "length 0" as "to the end"
            info = await self.stat(bucket, key)
            if info is None:
                raise ObjectNotFound(f"{bucket}/{key} does not exist")
            range_length(info.size, offset, 0)
            return ObjectReader(info, offset, 0, _no_chunks(), _nothing)
        response = await self._run(
            self._client.get_object, bucket, key, offset=offset, length=length or 0
        )
        info, served = response_info(bucket, key, response.headers)

        async def chunks() -> AsyncIterator[bytes]:
            remaining = served
            while remaining > 0:
                chunk = await self._run(response.read, min(self.chunk_size, remaining))
                if not chunk:
                    raise StoreUnavailable(f"{bucket}/{key}: connection ended early")
                remaining -= len(chunk)
                yield chunk

        def release_sync() -> None:
            response.close()
            response.release_conn()

        async def release() -> None:
            await self._run(release_sync)

        return ObjectReader(info, offset, served, chunks(), release)

    async def delete(self, bucket: str, key: str, version_id: str | None = None) -> None:
        check_bucket(bucket)
        check_key(key)
        try:
            await self._run(self._client.remove_object, bucket, key, version_id=version_id)
        except StorageError as exc:
            # A locked version answers 403 AccessDenied on SeaweedFS, ObjectLocked elsewhere.
            if version_id is not None and "AccessDenied" in str(exc):
                raise ObjectLocked(f"{bucket}/{key} version {version_id} is locked") from exc
            raise

    async def copy(
        self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str
    ) -> ObjectInfo:
        from minio.commonconfig import CopySource

        for bucket, key in ((src_bucket, src_key), (dst_bucket, dst_key)):
            check_bucket(bucket)
            check_key(key)
        await self._run(
            self._client.copy_object, dst_bucket, dst_key, CopySource(src_bucket, src_key)
        )
        info = await self.stat(dst_bucket, dst_key)
        if info is None:
            raise StorageError(f"{dst_bucket}/{dst_key} is missing right after the copy")
        return info

    async def list(self, bucket: str, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        check_bucket(bucket)
        objects = self._client.list_objects(bucket, prefix=prefix or None, recursive=True)

        def page() -> list[Any]:
            result = []
            for obj in objects:
                result.append(obj)
                if len(result) >= 1000:
                    break
            return result

        while batch := await self._run(page):
            for obj in batch:
                name = obj.object_name or ""
                if obj.is_dir or name.endswith("/"):
                    continue  # SeaweedFS lists emptied prefixes as "directories"
                yield ObjectInfo(
                    bucket=bucket,
                    key=name,
                    size=int(obj.size or 0),
                    etag=(obj.etag or "").strip('"'),
                    last_modified=obj.last_modified,
                    version_id=obj.version_id,
                )

    # --- presigned URLs (pure computation: the region is fixed) -----------------------------

    async def presigned_put(
        self,
        bucket: str,
        key: str,
        expires: dt.timedelta | int | float,
        sha256: str | None = None,
    ) -> str:
        """With `sha256` (hex) the URL carries it signed (s3_sdk.checksum_query)."""
        check_bucket(bucket)
        check_key(key)
        params = checksum_query(sha256) if sha256 is not None and self.put_checksums else None
        url = self._client.get_presigned_url(
            "PUT", bucket, key, expires=presign_expiry(expires), extra_query_params=params
        )
        return str(url)

    async def presigned_part_url(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        expires: dt.timedelta | int | float,
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        check_part_number(part_number)
        return str(
            self._client.get_presigned_url(
                "PUT",
                bucket,
                key,
                expires=presign_expiry(expires),
                extra_query_params={"partNumber": str(part_number), "uploadId": upload_id},
            )
        )

    async def presigned_get(
        self,
        bucket: str,
        key: str,
        expires: dt.timedelta | int | float,
        filename: str | None = None,
    ) -> str:
        return self._sign_get(bucket, key, expires, filename)

    def range_signer(
        self, bucket: str, key: str, expires: dt.timedelta | int | float
    ) -> Callable[[], str]:
        return functools.partial(self._sign_get, bucket, key, expires, None)

    def _sign_get(
        self, bucket: str, key: str, expires: dt.timedelta | int | float, filename: str | None
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        response_headers = (
            {"response-content-disposition": content_disposition(filename)} if filename else None
        )
        return str(
            self._client.get_presigned_url(
                "GET",
                bucket,
                key,
                expires=presign_expiry(expires),
                response_headers=cast(Any, response_headers),
            )
        )

    # --- multipart --------------------------------------------------------------------------

    async def create_multipart(
        self,
        bucket: str,
        key: str,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> str:
        check_bucket(bucket)
        check_key(key)
        headers = put_headers(content_type, check_metadata(metadata))
        return await self._run(self._multipart.create, bucket, key, headers)

    async def write_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        data: Source,
        size: int | None = None,
    ) -> PartInfo:
        raise UnsupportedOperation(
            "S3 store: clients PUT parts to presigned_part_url(); write_part is for the local store"
        )

    async def list_parts(self, bucket: str, key: str, upload_id: str) -> PartList:
        check_bucket(bucket)
        check_key(key)
        return await self._run(self._multipart.list_parts, bucket, key, upload_id)

    async def complete_multipart(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[PartRef]
    ) -> ObjectInfo:
        check_bucket(bucket)
        check_key(key)
        wanted = normalise_parts(parts)
        await self._run(self._multipart.complete, bucket, key, upload_id, wanted)
        info = await self.stat(bucket, key)
        if info is None:
            raise StorageError(f"{bucket}/{key} is missing right after completing its upload")
        return info

    async def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        check_bucket(bucket)
        check_key(key)
        with contextlib.suppress(UploadNotFound):
            await self._run(self._multipart.abort, bucket, key, upload_id)
