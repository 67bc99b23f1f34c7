"""The codes of learning materials (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class MaterialErrorCode(StrEnum):
    INVALID_LANGUAGE = "INVALID_LANGUAGE"
