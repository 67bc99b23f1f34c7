"""Backup and restore: a consistent snapshot of the database and the objects."""

from server.backup.errors import BackupError, BackupErrorCode
from server.backup.snapshot import BackupReport, RestoreReport, backup, restore

__all__ = ["BackupError", "BackupErrorCode", "BackupReport", "RestoreReport", "backup", "restore"]
