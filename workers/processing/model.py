"""Value types of the processing core: limits, detected format, result, typed failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from server.models.enums import UploadWarningCode

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


class ErrorCode(StrEnum):
    CHECKSUM_MISMATCH = "CHECKSUM_MISMATCH"
    SIZE_MISMATCH = "SIZE_MISMATCH"
    EMPTY_FILE = "EMPTY_FILE"
    UNREADABLE = "UNREADABLE"
    TOO_LARGE = "TOO_LARGE"
    ZIP_BOMB = "ZIP_BOMB"
    EXTRACTOR_CRASHED = "EXTRACTOR_CRASHED"  # a native reader died on the file (a signal)
    EXTRACTOR_TIMEOUT = "EXTRACTOR_TIMEOUT"  # past its CPU-time or wall-clock limit
    TOO_COMPLEX = "TOO_COMPLEX"  # past the memory limit, or structure beyond what we read
    ENCRYPTED = "ENCRYPTED"  # a password-protected file: kept bytes cannot be read
    MALFORMED_RECORD = "MALFORMED_RECORD"  # a record contradicts itself (FASTQ, miniSEED)
    TRUNCATED = "TRUNCATED"  # a compressed stream or a record cut short
    DECOMPRESSION_BOMB = "DECOMPRESSION_BOMB"  # an image declaring more pixels than allowed


class ProcessingError(Exception):
    """A permanent failure: the upload ends in FAILED with this code and message."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int = 64 * GiB
    head_bytes: int = 64 * KiB
    read_chunk: int = 1 * MiB
    block_size: int = 512 * KiB  # pyarrow CSV RSS grows ~50x the block size
    # the Parquet writer and the profile hold ~10x the row group: at 2 MiB a 200 MiB CSV
    # peaked ~25 MiB lower than at 4 MiB, at the same speed (tests/workers/test_processing_input.py)
    row_group_bytes: int = 2 * MiB
    preview_rows: int = 100
    max_columns: int = 4096
    max_type_restarts: int = 16
    json_max_bytes: int = 2 * GiB
    json_max_value_bytes: int = 64 * MiB
    zip_max_members: int = 100_000
    zip_max_uncompressed: int = 16 * GiB
    zip_max_ratio: float = 200.0
    zip_ratio_min_bytes: int = 16 * MiB
    zip_verify_members: bool = True
    # native extractors run in a child process (sandbox.py) under these limits
    extractor_cpu_seconds: int = 300
    extractor_memory_bytes: int = 2 * GiB
    extractor_wall_seconds: float = 600.0
    extractor_max_result_bytes: int = 64 * MiB
    max_sheets: int = 256  # spreadsheet sheets read as tables; the rest are skipped, with a warning
    max_variables: int = 10_000  # gridded files: more variables or dimensions are TOO_COMPLEX


@dataclass(frozen=True, slots=True)
class DetectedFormat:
    kind: str
    media_type: str
    tabular: bool
    encoding: str | None = None
    delimiter: str | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning about a file that is still accepted: stored with the upload, shown to users."""

    code: UploadWarningCode
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


@dataclass(slots=True)
class ProcessingResult:
    sha256: str
    size: int
    format: DetectedFormat
    profile: dict[str, Any] | None = None
    parquet_path: Path | None = None
    preview: list[dict[str, Any]] | None = None
    archive: dict[str, Any] | None = None
    warnings: list[Notice] = field(default_factory=list)
    # more artifacts than the one table's: (kind, object name, a file or the bytes)
    extra_artifacts: list[tuple[str, str, Path | bytes]] = field(default_factory=list)
    # who computed sha256: this pass over every byte ("hash"), or the store, which checked
    # it against the one signed into the PUT ("store-checksum")
    sha256_by: str = "hash"
