"""What `S3ObjectStore` needs from the minio SDK and the S3 protocol beyond plain calls: the
multipart steps, S3 errors as `StorageError`s, user metadata headers, checksums."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from server.storage.base import ObjectInfo, PartInfo, PartList
from server.storage.errors import (
    BucketNotFound,
    InvalidPart,
    InvalidRange,
    ObjectLocked,
    ObjectNotFound,
    StorageError,
    StoreUnavailable,
    UploadNotFound,
)

_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "XMinioServerNotInitialized",
    }
)
_PART_CODES = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})
LOCK_UNSUPPORTED_CODES = frozenset(
    {
        "NotImplemented",
        "InvalidRequest",
        "InvalidArgument",
        "MethodNotAllowed",
        "InvalidBucketState",
    }
)


class MinioMultipart:
    """The only place that touches the minio SDK's private multipart methods.

    Why: minio 7.2 has no public API for the steps of a multipart upload (it drives them
    inside `put_object`), but the upload flow needs them separately: the server creates the
    upload, clients PUT parts to presigned URLs, the server lists and completes (or aborts).
    The private methods are thin wrappers of the S3 calls; if a minio release renames them,
    only this class changes (the test suite exercises all of them against SeaweedFS).
    """

    def __init__(self, client: Any) -> None:
        self._client = client

    def create(self, bucket: str, key: str, headers: dict[str, str]) -> str:
        return str(self._client._create_multipart_upload(bucket, key, dict(headers)))

    def upload_part(
        self, bucket: str, key: str, upload_id: str, part_number: int, data: bytes
    ) -> str:
        return str(self._client._upload_part(bucket, key, data, None, upload_id, part_number))

    def list_parts(self, bucket: str, key: str, upload_id: str) -> PartList:
        parts: PartList = []
        marker: str | None = None
        while True:
            result = self._client._list_parts(
                bucket, key, upload_id, max_parts=1000, part_number_marker=marker
            )
            for part in result.parts:
                parts.append(PartInfo(part.part_number, part.etag, part.size or 0))
            if not result.is_truncated or not result.next_part_number_marker:
                return parts
            marker = result.next_part_number_marker

    def complete(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> Any:
        from minio.datatypes import Part

        listed = [Part(number, etag) for number, etag in parts]
        return self._client._complete_multipart_upload(bucket, key, upload_id, listed)

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        self._client._abort_multipart_upload(bucket, key, upload_id)


def user_metadata(headers: Mapping[str, str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if lowered.startswith("x-amz-meta-"):
            result[lowered[len("x-amz-meta-") :]] = value
    return result


def put_headers(content_type: str | None, metadata: Mapping[str, str]) -> dict[str, str]:
    headers = {"Content-Type": content_type or "application/octet-stream"}
    headers.update({f"x-amz-meta-{k}": v for k, v in metadata.items()})
    return headers


def http_date(value: str) -> dt.datetime | None:
    """An HTTP date header as an aware datetime (None if unparsable)."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def assembled(
    bucket: str,
    key: str,
    size: int,
    result: Any,
    sha256: str,
    content_type: str | None,
    meta: dict[str, str],
) -> ObjectInfo:
    """What a completed multipart upload stored."""
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=size,
        etag=(result.etag or "").strip('"'),
        sha256=sha256,
        content_type=content_type or "application/octet-stream",
        version_id=result.version_id,
        metadata=meta,
    )


def storage_error(exc: BaseException, endpoint: str) -> BaseException:
    """The `StorageError` an exception of the SDK (or its HTTP pool) stands for; others as
    they are."""
    import urllib3
    from minio.error import InvalidResponseError, S3Error, ServerError

    if isinstance(exc, S3Error):
        code, message = exc.code or "", exc.message or ""
        where = f"{exc.bucket_name or ''}/{exc.object_name or ''}".strip("/")
        if code in _NOT_FOUND_CODES:
            return ObjectNotFound(f"{where} does not exist")
        if code == "NoSuchBucket":
            return BucketNotFound(f"bucket {exc.bucket_name!r} does not exist")
        if code == "NoSuchUpload":
            return UploadNotFound("no such multipart upload")
        if code in _PART_CODES:
            return InvalidPart(f"{code}: {message}")
        if code == "InvalidRange":
            return InvalidRange(message or "requested range is not satisfiable")
        if code == "ObjectLocked":
            return ObjectLocked(message or f"{where} is locked")
        if code in _TRANSIENT_CODES:
            return StoreUnavailable(f"S3 {code}: {message}")
        return StorageError(f"S3 {code}: {message} ({where})")
    if isinstance(exc, ServerError):
        return StoreUnavailable(f"S3 server error: {exc}")
    if isinstance(exc, InvalidResponseError):
        status = getattr(exc, "_code", 0) or 0
        if status >= 500 or status == 429:
            return StoreUnavailable(f"S3 answered {status}")
        return StorageError(f"unexpected S3 response: {exc}")
    if isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError):
        return StoreUnavailable(f"S3 endpoint {endpoint} unavailable: {exc}")
    return exc


def checksum_query(sha256: str) -> dict[str, str | list[str] | tuple[str]]:
    """A presigned PUT's query for the sha256 (hex) its body must have: the store refuses
    other bytes (400 BadDigest) and keeps the checksum. Signed in the query, since an
    unsigned x-amz-* header is a signature mismatch on a presigned URL."""
    value = base64.b64encode(bytes.fromhex(sha256)).decode()
    return {"x-amz-checksum-sha256": value, "x-amz-sdk-checksum-algorithm": "SHA256"}


def checksum_sha256(headers: Mapping[str, str]) -> str | None:
    """The sha256 (hex) of a HEAD's `x-amz-checksum-sha256`, asked with checksum mode on;
    None without one, or for a multipart object's (a checksum of checksums, "...-3")."""
    try:
        digest = base64.b64decode(headers.get("x-amz-checksum-sha256") or "", validate=True)
    except ValueError:
        return None
    return digest.hex() if len(digest) == hashlib.sha256().digest_size else None


def object_info(bucket: str, key: str, obj: Any) -> ObjectInfo:
    """An ObjectInfo of the minio SDK's `Object` (a stat, a listing's entry)."""
    metadata = user_metadata(obj.metadata)
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(obj.size or 0),
        etag=(obj.etag or "").strip('"'),
        sha256=metadata.get("sha256"),
        content_type=obj.content_type,
        last_modified=obj.last_modified,
        version_id=obj.version_id,
        metadata=metadata,
    )


def response_info(bucket: str, key: str, headers: Mapping[str, str]) -> tuple[ObjectInfo, int]:
    """A GET's ObjectInfo (the whole object's size, from Content-Range on a range) and the
    bytes it serves."""
    served = int(headers.get("content-length", "0"))
    total = served
    content_range = headers.get("content-range")
    if content_range and "/" in content_range:
        with contextlib.suppress(ValueError):
            total = int(content_range.rsplit("/", 1)[1])
    modified = headers.get("last-modified")
    metadata = user_metadata(headers)
    info = ObjectInfo(
        bucket=bucket,
        key=key,
        size=total,
        etag=(headers.get("etag") or "").strip('"'),
        sha256=metadata.get("sha256"),
        content_type=headers.get("content-type"),
        last_modified=http_date(modified) if modified else None,
        version_id=headers.get("x-amz-version-id"),
        metadata=metadata,
    )
    return info, served
