"""The codes of analytics queries (answered as query errors) (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class AnalyticsErrorCode(StrEnum):
    INVALID_FILTER = "INVALID_FILTER"
