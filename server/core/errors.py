"""Domain errors: expected failures, each with a stable code, mapped once at the API edge."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """Codes any operation may answer: access, ids, the shared validators, and rules that
    several domains apply. Each domain's own codes are an enum beside its service
    (server/<domain>/errors.py); the GraphQL error type of a domain lists both."""

    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    CONFLICT = "CONFLICT"
    INVALID_ID = "INVALID_ID"
    NOTHING_TO_UPDATE = "NOTHING_TO_UPDATE"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    TOO_MANY = "TOO_MANY"
    DUPLICATE = "DUPLICATE"
    INVALID_TEXT = "INVALID_TEXT"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_URL = "INVALID_URL"
    INVALID_PERIOD = "INVALID_PERIOD"
    INVALID_YEAR = "INVALID_YEAR"
    INVALID_COUNTRY = "INVALID_COUNTRY"
    INVALID_LICENCE = "INVALID_LICENCE"
    FUTURE_DATE = "FUTURE_DATE"
    NOT_PARTICIPATING = "NOT_PARTICIPATING"
    OUTSIDE_PROJECT_PERIOD = "OUTSIDE_PROJECT_PERIOD"
    EX_POST_TOO_EARLY = "EX_POST_TOO_EARLY"
    OVERRIDE_NOT_ALLOWED = "OVERRIDE_NOT_ALLOWED"
    STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"
    INVALID_LANGUAGE_TAG = "INVALID_LANGUAGE_TAG"
    UNKNOWN_LANGUAGE = "UNKNOWN_LANGUAGE"
    DUPLICATE_LANGUAGE = "DUPLICATE_LANGUAGE"
    NO_ORIGINAL = "NO_ORIGINAL"


class QueryErrorCode(StrEnum):
    """Codes of a read's arguments (answered as GraphQL errors, with the code in
    `extensions`)."""

    INVALID_CURSOR = "INVALID_CURSOR"
    INVALID_PAGE_SIZE = "INVALID_PAGE_SIZE"


@dataclass(frozen=True)
class ErrorDetail:
    code: StrEnum  # ErrorCode or a domain's enum: never a bare string
    message: str
    field: str | None = None


class DomainError(Exception):
    """One or more expected failures of an operation; nothing was written."""

    def __init__(self, *details: ErrorDetail) -> None:
        super().__init__("; ".join(d.message for d in details))
        self.details = list(details)

    @classmethod
    def one(cls, code: StrEnum, message: str, field: str | None = None) -> DomainError:
        return cls(ErrorDetail(code, message, field))


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = "id") -> None:
        super().__init__(ErrorDetail(ErrorCode.NOT_FOUND, f"{what} not found", field))


class Forbidden(DomainError):
    def __init__(self, message: str = "you are not allowed to do this") -> None:
        super().__init__(ErrorDetail(ErrorCode.FORBIDDEN, message, None))


class Collector:
    """Gathers validation failures so a caller sees all of them at once."""

    def __init__(self) -> None:
        self.details: list[ErrorDetail] = []

    def add(self, code: StrEnum, message: str, field: str | None) -> None:
        self.details.append(ErrorDetail(code, message, field))

    def raise_if_any(self) -> None:
        if self.details:
            raise DomainError(*self.details)
