"""The mutations of the design matrix; the rules live in server/pdm/service.py."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id, optional_id
from schema.context import Info
from schema.inputs import given
from schema.materials.mutations import MaterialMutations
from schema.payloads import payload
from schema.pdm.types import (
    AddIndicatorInput,
    AddPdmElementInput,
    Indicator,
    IndicatorMeasurement,
    IndicatorPayload,
    PdmElement,
    PdmElementPayload,
    RecordMeasurementInput,
    RecordMeasurementPayload,
    UpdatePdmElementInput,
)
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.pdm import service
from server.texts.service import sent_text


def _element(row: models.PdmElement) -> PdmElementPayload:
    return PdmElementPayload(element=PdmElement.from_row(row))


def _indicator(row: models.Indicator) -> IndicatorPayload:
    return IndicatorPayload(indicator=Indicator.from_row(row))


@strawberry.type
class DesignMatrixMutations:
    @strawberry.mutation
    async def add_pdm_element(self, info: Info, input: AddPdmElementInput) -> PdmElementPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.PdmElement:
            project_id = decode_id(input.project_id, "Project", "projectId")
            parent_id = optional_id(input.parent_id, "PdmElement", "parentId")
            return await service.add_element(
                session,
                principal,
                project_id,
                input.level,
                input.description,
                parent_id,
                input.position,
                descriptions=text_values(input.descriptions),
            )

        return await payload(info, op, PdmElementPayload, _element)

    @strawberry.mutation
    async def update_pdm_element(
        self, info: Info, input: UpdatePdmElementInput
    ) -> PdmElementPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.PdmElement:
            element_id = decode_id(input.id, "PdmElement", "id")
            values = given(input, "description", "position")
            if input.descriptions is not strawberry.UNSET:
                values["descriptions"] = text_values(input.descriptions)
            return await service.update_element(session, principal, element_id, values)

        return await payload(info, op, PdmElementPayload, _element)

    @strawberry.mutation
    async def add_indicator(self, info: Info, input: AddIndicatorInput) -> IndicatorPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Indicator:
            element_id = decode_id(input.element_id, "PdmElement", "elementId")
            values = given(input, "unit", "baseline", "target", "means_of_verification")
            values |= sent_text(
                "description", "descriptions", input.description, text_values(input.descriptions)
            )
            return await service.add_indicator(session, principal, element_id, values)

        return await payload(info, op, IndicatorPayload, _indicator)

    @strawberry.mutation
    async def record_measurement(
        self, info: Info, input: RecordMeasurementInput
    ) -> RecordMeasurementPayload:
        async def op(
            session: AsyncSession, principal: Principal
        ) -> tuple[models.Indicator, models.IndicatorMeasurement]:
            return await service.record_measurement(
                session,
                principal,
                decode_id(input.indicator_id, "Indicator", "indicatorId"),
                input.measured_on,
                input.value,
                input.unit,
                input.note,
            )

        def done(
            row: tuple[models.Indicator, models.IndicatorMeasurement],
        ) -> RecordMeasurementPayload:
            indicator, measurement = row
            return RecordMeasurementPayload(
                indicator=Indicator.from_row(indicator),
                measurement=IndicatorMeasurement.from_row(measurement),
            )

        return await payload(info, op, RecordMeasurementPayload, done)


@strawberry.type
class PdmMutations(DesignMatrixMutations, MaterialMutations):
    """The design matrix's mutations, then the learning materials' (schema.materials), in the
    SDL's order."""
