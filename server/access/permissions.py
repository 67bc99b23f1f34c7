"""Who may write what. Read rules are SQL filters in server/access/visibility.py."""

from __future__ import annotations

from server.access.auth import Principal
from server.core.errors import DomainError, ErrorCode, Forbidden
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
