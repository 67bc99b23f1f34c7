"""Domain errors: expected failures, each with a stable code, mapped once at the API edge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    field: str | None = None


class DomainError(Exception):
    """One or more expected failures of an operation; nothing was written."""

    def __init__(self, *details: ErrorDetail) -> None:
        super().__init__("; ".join(d.message for d in details))
        self.details = list(details)

    @classmethod
    def one(cls, code: str, message: str, field: str | None = None) -> DomainError:
        return cls(ErrorDetail(code, message, field))


class NotFound(DomainError):
    def __init__(self, what: str, field: str | None = "id") -> None:
        super().__init__(ErrorDetail("NOT_FOUND", f"{what} not found", field))


class Forbidden(DomainError):
    def __init__(self, message: str = "you are not allowed to do this") -> None:
        super().__init__(ErrorDetail("FORBIDDEN", message, None))


class Collector:
    """Gathers validation failures so a caller sees all of them at once."""

    def __init__(self) -> None:
        self.details: list[ErrorDetail] = []

    def add(self, code: str, message: str, field: str | None) -> None:
        self.details.append(ErrorDetail(code, message, field))

    def raise_if_any(self) -> None:
        if self.details:
            raise DomainError(*self.details)
