"""The codes of `satreps backup` and `satreps restore`."""

from __future__ import annotations

from enum import StrEnum

from server.core.errors import DomainError, ErrorDetail


class BackupErrorCode(StrEnum):
    TARGET_NOT_EMPTY = "TARGET_NOT_EMPTY"  # restore into a database or store that has data
    BACKUP_DIR_NOT_EMPTY = "BACKUP_DIR_NOT_EMPTY"  # backup into a directory that has files
    NOT_A_BACKUP = "NOT_A_BACKUP"  # no manifest, or one of another format
    DUMP_FAILED = "DUMP_FAILED"  # pg_dump / pg_restore exited with an error (or is missing)
    OBJECT_MISSING = "OBJECT_MISSING"  # a manifest entry with no copy in the backup
    OBJECT_CORRUPT = "OBJECT_CORRUPT"  # a copy whose sha256 or size is not the manifest's
    NOT_MIGRATED = "NOT_MIGRATED"  # a backup of a database satreps never migrated
    WRONG_BACKEND = "WRONG_BACKEND"  # a PostgreSQL dump into SQLite, or the other way


class BackupError(DomainError):
    def __init__(self, code: BackupErrorCode, message: str) -> None:
        super().__init__(ErrorDetail(code, message, None))
        self.code = code
