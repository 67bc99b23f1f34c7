"""Researchers and affiliations: the mutations."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.payloads import payload
from schema.researchers.types import (
    AddAffiliationInput,
    Affiliation,
    AffiliationPayload,
    CreateResearcherInput,
    Researcher,
    ResearcherPayload,
)
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.researchers import service


@strawberry.type
class ResearcherMutations:
    @strawberry.mutation
    async def create_researcher(
        self, info: Info, input: CreateResearcherInput
    ) -> ResearcherPayload:
        values: dict[str, Any] = {
            "name_en": input.name_en,
            "name_local": input.name_local,
            "orcid": input.orcid,
            "email": input.email,
        }
        if input.names is not None:
            values["names"] = text_values(input.names)

        async def op(session: AsyncSession, principal: Principal) -> models.Researcher:
            return await service.create_researcher(session, principal, values)

        return await payload(
            info,
            op,
            ResearcherPayload,
            lambda row: ResearcherPayload(researcher=Researcher.from_row(row)),
        )

    @strawberry.mutation
    async def add_affiliation(self, info: Info, input: AddAffiliationInput) -> AffiliationPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Affiliation:
            return await service.add_affiliation(
                session,
                principal,
                decode_id(input.researcher_id, "Researcher", "researcherId"),
                decode_id(input.institution_id, "Institution", "institutionId"),
                title=input.title,
                start_date=input.start_date,
                end_date=input.end_date,
            )

        return await payload(
            info,
            op,
            AffiliationPayload,
            lambda row: AffiliationPayload(affiliation=Affiliation.from_row(row)),
        )
