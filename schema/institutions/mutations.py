"""Institutions: the mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.inputs import given
from schema.institutions.types import (
    CreateInstitutionInput,
    Institution,
    InstitutionPayload,
    UpdateInstitutionInput,
)
from schema.payloads import payload
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.institutions import service

INSTITUTION_FIELDS = (
    "name_en",
    "name_local",
    "acronym",
    "country",
    "kind",
    "ror_id",
    "website",
    "different_body",
)


def _values(input: CreateInstitutionInput | UpdateInstitutionInput) -> dict[str, Any]:
    """The fields sent, `names` as the service takes them (on creation null is not sent)."""
    values = given(input, *INSTITUTION_FIELDS)
    for name, items in given(input, "names", "acronyms").items():
        values[name] = text_values(items)
    if isinstance(input, CreateInstitutionInput):
        for key in ("name_en", "names", "acronym", "acronyms"):
            if values.get(key, 0) is None:
                del values[key]
    return values


async def institution_payload(
    info: Info, op: Callable[[AsyncSession, Principal], Awaitable[models.Institution]]
) -> InstitutionPayload:
    return await payload(
        info,
        op,
        InstitutionPayload,
        lambda row: InstitutionPayload(institution=Institution.from_row(row)),
    )


@strawberry.type
class InstitutionMutations:
    @strawberry.mutation
    async def create_institution(
        self, info: Info, input: CreateInstitutionInput
    ) -> InstitutionPayload:
        values = _values(input)

        async def op(session: AsyncSession, principal: Principal) -> models.Institution:
            return await service.create_institution(session, principal, values)

        return await institution_payload(info, op)

    @strawberry.mutation
    async def update_institution(
        self, info: Info, input: UpdateInstitutionInput
    ) -> InstitutionPayload:
        values = _values(input)

        async def op(session: AsyncSession, principal: Principal) -> models.Institution:
            institution_id = decode_id(input.id, "Institution", "id")
            return await service.update_institution(session, principal, institution_id, values)

        return await institution_payload(info, op)
