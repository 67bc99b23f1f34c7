"""The codes of search (answered as query errors) (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class SearchErrorCode(StrEnum):
    INVALID_QUERY = "INVALID_QUERY"
