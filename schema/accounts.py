"""The signed-in caller."""

from __future__ import annotations

import strawberry

from schema.context import Info
from schema.institutions import Institution
from schema.researchers import Researcher
from server.models.enums import AccountRole as AccountRoleEnum

AccountRole = strawberry.enum(AccountRoleEnum, name="AccountRole")


@strawberry.type
class Me:
    role: AccountRole  # type: ignore[valid-type]
    researcher_id: strawberry.Private[int | None]
    institution_id: strawberry.Private[int | None]

    @strawberry.field
    async def researcher(self, info: Info) -> Researcher | None:
        if self.researcher_id is None:
            return None
        row = await info.context.loaders.researcher_by_id.load(self.researcher_id)
        return Researcher.from_row(row) if row else None

    @strawberry.field
    async def institution(self, info: Info) -> Institution | None:
        if self.institution_id is None:
            return None
        row = await info.context.loaders.institution_by_id.load(self.institution_id)
        return Institution.from_row(row) if row else None


@strawberry.type
class AccountQueries:
    @strawberry.field(description="The caller's account; null for anonymous callers.")
    async def me(self, info: Info) -> Me | None:
        principal = info.context.principal
        if not principal.is_authenticated or principal.role is None:
            return None
        return Me(
            role=principal.role,
            researcher_id=principal.researcher_id,
            institution_id=principal.institution_id,
        )
