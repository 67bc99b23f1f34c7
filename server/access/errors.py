"""The codes of API tokens (their scopes and lifetime), beside ErrorCode."""

from __future__ import annotations

from enum import StrEnum


class AccessErrorCode(StrEnum):
    ACCOUNT_EXISTS = "ACCOUNT_EXISTS"
    INVALID_EXPIRY = "INVALID_EXPIRY"
    INVALID_SCOPE = "INVALID_SCOPE"
