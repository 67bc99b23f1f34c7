"""The codes of the Project Design Matrix and its indicators (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class PdmErrorCode(StrEnum):
    DUPLICATE_LEVEL = "DUPLICATE_LEVEL"
    INVALID_NUMBER = "INVALID_NUMBER"
    INVALID_PARENT = "INVALID_PARENT"
    INVALID_POSITION = "INVALID_POSITION"
    MISSING_UNIT = "MISSING_UNIT"
    UNIT_MISMATCH = "UNIT_MISMATCH"
