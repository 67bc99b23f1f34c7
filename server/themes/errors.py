"""The codes of themes (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class ThemeErrorCode(StrEnum):
    DUPLICATE_CODE = "DUPLICATE_CODE"
    INVALID_CODE = "INVALID_CODE"
    INVALID_SDG = "INVALID_SDG"
