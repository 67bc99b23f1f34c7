"""The pure processing core of the upload pipeline: bytes in, facts and artifacts out.

No database, object store or queue here: the worker hands a byte source and a per-job
`workdir`, and gets a `ProcessingResult` or a `ProcessingError` with a permanent code.
"""

from .core import (
    PARQUET_NAME,
    UploadProcessor,
    process_chunks,
    process_file,
    process_known,
    process_stream,
)
from .detect import detect_format
from .model import (
    DetectedFormat,
    ErrorCode,
    Limits,
    ProcessingError,
    ProcessingResult,
)

__all__ = [
    "PARQUET_NAME",
    "DetectedFormat",
    "ErrorCode",
    "Limits",
    "ProcessingError",
    "ProcessingResult",
    "UploadProcessor",
    "detect_format",
    "process_chunks",
    "process_file",
    "process_known",
    "process_stream",
]
