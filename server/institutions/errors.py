"""The codes of institutions (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class InstitutionErrorCode(StrEnum):
    DUPLICATE_INSTITUTION = "DUPLICATE_INSTITUTION"
    DUPLICATE_ROR = "DUPLICATE_ROR"
    INVALID_ROR = "INVALID_ROR"
