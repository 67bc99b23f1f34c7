"""The codes of projects, their partners, members and lifecycle (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class ProjectErrorCode(StrEnum):
    DUPLICATE_LEAD = "DUPLICATE_LEAD"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    PERIOD_NOT_STARTED = "PERIOD_NOT_STARTED"
    RD_REQUIRED = "RD_REQUIRED"
    ROLE_COUNTRY_MISMATCH = "ROLE_COUNTRY_MISMATCH"
