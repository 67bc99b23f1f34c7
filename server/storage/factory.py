"""The store the settings ask for."""

from __future__ import annotations

from server.core.config import Settings, storage_workers
from server.storage.base import Buckets, ObjectStore
from server.storage.local import LocalObjectStore
from server.storage.s3 import S3ObjectStore


def store_from_settings(settings: Settings) -> ObjectStore:
    """S3/MinIO when `s3_endpoint` is set, else the local directory `object_dir`."""
    buckets = Buckets(settings.bucket_raw, settings.bucket_artifacts, settings.bucket_provenance)
    if settings.s3_endpoint:
        return S3ObjectStore(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key.get_secret_value(),
            secure=settings.s3_secure,
            region=settings.s3_region,
            buckets=buckets,
            raw_retention_days=settings.raw_retention_days,
            raw_retention_mode=settings.raw_retention_mode,
            max_workers=storage_workers(settings, local=False),
            put_checksums=settings.s3_put_checksums,
        )
    workers = storage_workers(settings, local=True)
    return LocalObjectStore(settings.object_dir, buckets, max_workers=workers)
