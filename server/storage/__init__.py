"""The object store of satreps-hub: raw uploads, processed artifacts, provenance documents.

Two implementations behind one interface (`base.ObjectStore`), both used from async code (the
API and the arq workers):

- `local.LocalObjectStore(root)` for the embedded mode: a local directory, one subdirectory
  per bucket, atomic writes (temporary file + rename), multipart uploads staged on disk.
- `s3.S3ObjectStore(endpoint, ...)` for production: S3 / MinIO / SeaweedFS through the minio
  SDK (`s3_sdk` holds what it needs from the SDK beyond plain calls).

Both stores share one multipart lifecycle (`create_multipart` -> parts -> `list_parts` ->
`complete_multipart` / `abort_multipart`). With S3 the client PUTs parts straight to
`presigned_part_url`; with the local store the server's own upload endpoint feeds
`write_part`. `factory.store_from_settings` picks one.

Keys come from user-controlled input: build them with `keys.safe_key`; every operation checks
the key again. Failures are `errors.StorageError`s; `StoreUnavailable` (connection refused,
timeouts, 5xx) and `StorageFull` (the local store's disk or quota full) are the transient
ones a pipeline retries.
"""

from server.storage.base import Buckets, ObjectStore, PartInfo
from server.storage.errors import (
    InvalidPart,
    InvalidRange,
    KeyConflict,
    ObjectExists,
    ObjectLocked,
    ObjectNotFound,
    SizeMismatch,
    StorageError,
    StorageFull,
    StoreUnavailable,
    UnsupportedOperation,
    UploadNotFound,
)
from server.storage.factory import store_from_settings
from server.storage.keys import content_disposition, safe_key, sanitize_filename
from server.storage.local import LocalObjectStore
from server.storage.s3 import S3ObjectStore

__all__ = [
    "Buckets",
    "InvalidPart",
    "InvalidRange",
    "KeyConflict",
    "LocalObjectStore",
    "ObjectExists",
    "ObjectLocked",
    "ObjectNotFound",
    "ObjectStore",
    "PartInfo",
    "S3ObjectStore",
    "SizeMismatch",
    "StorageError",
    "StorageFull",
    "StoreUnavailable",
    "UnsupportedOperation",
    "UploadNotFound",
    "content_disposition",
    "safe_key",
    "sanitize_filename",
    "store_from_settings",
]
