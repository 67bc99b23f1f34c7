"""Who may write what. Read rules are SQL filters in server/access/visibility.py."""

from __future__ import annotations

from server.access.auth import Principal
from server.core.errors import Collector, DomainError, ErrorCode, Forbidden
from server.core.validation import clean_text
from server.models.enums import AccountRole


def require_signed_in(principal: Principal) -> None:
    if not principal.is_authenticated:
        raise DomainError.one(ErrorCode.UNAUTHENTICATED, "this operation needs an API token")


def require_role(principal: Principal, *roles: AccountRole) -> None:
    require_signed_in(principal)
    if not principal.has_role(*roles):
        raise Forbidden()


STAFF = (AccountRole.ADMIN, AccountRole.PROGRAM_MANAGER)
CURATORS = (*STAFF, AccountRole.RESEARCHER)


def admin_override(errors: Collector, principal: Principal, raw: str | None) -> str | None:
    """An admin's reason to override a data rule (a phase transition's timing, a date the
    rules refuse): given by anyone else, OVERRIDE_NOT_ALLOWED. The caller applies the rule
    only when this returns None, and keeps the reason (phase history, audit log)."""
    reason = clean_text(errors, "overrideReason", raw, max_len=2000)
    if reason is not None and not principal.is_admin:
        errors.add(
            ErrorCode.OVERRIDE_NOT_ALLOWED,
            "only an admin may override a lifecycle rule",
            "overrideReason",
        )
    return reason
