"""The codes of researchers (ErrorCode: the shared ones)."""

from __future__ import annotations

from enum import StrEnum


class ResearcherErrorCode(StrEnum):
    DUPLICATE_ORCID = "DUPLICATE_ORCID"
    INVALID_ORCID = "INVALID_ORCID"
    INVALID_ORCID_CHECKSUM = "INVALID_ORCID_CHECKSUM"
