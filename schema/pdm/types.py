"""The Project Design Matrix (elements, indicators, measurements): the GraphQL types, the
Project fields that reach them (with the learning materials', schema.materials), their
filter, inputs and payloads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.compiled.components import (
    design_matrix,
    element_children,
    element_indicators,
    element_parent,
    indicator_element,
    indicator_measurements,
    matrix_elements,
    owner_project,
    plain_decimal,
)
from schema.compiled.mapping import compiled
from schema.connections import load_nodes, project_node
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.materials.types import ProjectMaterialFields
from schema.rows import FromRow
from schema.texts import (
    EACH_LANGUAGE,
    Fallback,
    LanguageTextInput,
    TextField,
    text_builders,
    text_fields,
    texts_input,
)
from server import models
from server.models.enums import PdmLevel as PdmLevelEnum
from server.pdm import errors as codes
from server.pdm import queries, service

if TYPE_CHECKING:
    from schema.projects import Project


PdmErrorCode = error_codes("PdmErrorCode", codes.PdmErrorCode)


@strawberry.type(description="An expected failure of a design matrix mutation.")
class PdmError(UserError):
    code: PdmErrorCode  # type: ignore[valid-type]


PdmLevel = strawberry.enum(
    PdmLevelEnum,
    name="PdmLevel",
    description="The rows of the Project Design Matrix, top down: overall goal, project"
    " purpose, outputs, activities",
)
LazyProject = Annotated["Project", strawberry.lazy("schema.projects")]


def plain(value: Decimal | None) -> Decimal | None:
    """The same digits on every database: no trailing zeros, never an exponent."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


# ---- types -------------------------------------------------------------------------


@compiled(value=plain_decimal("value", 6))
@strawberry.type(description="A dated measurement of an indicator, in the indicator's unit.")
class IndicatorMeasurement:
    measured_on: dt.date
    value: Decimal
    unit: str
    note: str | None
    created_at: dt.datetime

    @classmethod
    def from_row(cls, row: models.IndicatorMeasurement) -> IndicatorMeasurement:
        return cls(
            measured_on=row.measured_on,
            value=plain(row.value),  # type: ignore[arg-type]
            unit=row.unit,
            note=row.note,
            created_at=row.created_at,
        )


ELEMENT_DESCRIPTION = TextField("pdm_element", "description", (Fallback("description", "und"),))
INDICATOR_DESCRIPTION = TextField("indicator", "description", (Fallback("description", "und"),))
DESCRIPTIONS = "The description" + EACH_LANGUAGE


@compiled(
    text_builders(INDICATOR_DESCRIPTION, "descriptions"),
    python=("progress", "on_track"),
    baseline=plain_decimal("baseline", 6),
    target=plain_decimal("target", 6),
    element=indicator_element,
    measurements=indicator_measurements(newest=False),
    latest_measurement=indicator_measurements(newest=True),
)
@strawberry.type(description="An objectively verifiable indicator of a PDM element.")
class Indicator(relay.Node):
    id: relay.NodeID[int]
    description: strawberry.Private[str]  # the original (the column)
    unit: str
    baseline: Decimal | None
    target: Decimal | None
    means_of_verification: str | None
    element_id: strawberry.Private[int]

    description_in, descriptions = text_fields(
        INDICATOR_DESCRIPTION, DESCRIPTIONS, required="description"
    )

    @classmethod
    def from_row(cls, row: models.Indicator) -> Indicator:
        return cls(
            id=row.id,
            description=row.description,
            unit=row.unit,
            baseline=plain(row.baseline),
            target=plain(row.target),
            means_of_verification=row.means_of_verification,
            element_id=row.element_id,
        )

    async def _measurements(self, info: Info) -> list[models.IndicatorMeasurement]:
        loader = info.context.loaders.many_visible(queries.measurements_by_indicator)
        return await loader.load(self.id)

    @strawberry.field(description="The PDM element this indicator measures")
    async def element(self, info: Info) -> PdmElement | None:
        row = await info.context.loaders.one_visible(queries.elements_by_id).load(self.element_id)
        return PdmElement.from_row(row) if row is not None else None

    @strawberry.field(description="Oldest first (by date, then as recorded)")
    async def measurements(self, info: Info) -> list[IndicatorMeasurement]:
        return [IndicatorMeasurement.from_row(m) for m in await self._measurements(info)]

    @strawberry.field(description="The measurement with the latest date (last recorded wins)")
    async def latest_measurement(self, info: Info) -> IndicatorMeasurement | None:
        rows = await self._measurements(info)
        return IndicatorMeasurement.from_row(rows[-1]) if rows else None

    @strawberry.field(
        description="(latest - baseline) / (target - baseline): 0 at the baseline, 1 at the"
        " target, not clamped; null without baseline, target (distinct) or measurement"
    )
    async def progress(self, info: Info) -> float | None:
        rows = await self._measurements(info)
        fraction = service.progress(self.baseline, self.target, rows[-1].value if rows else None)
        return float(fraction) if fraction is not None else None

    @strawberry.field(
        description="Whether progress keeps up with a linear plan from the baseline at the"
        " project's start to the target at its end, on the latest measurement's date; null"
        " when progress or the project's period is unknown"
    )
    async def on_track(self, info: Info) -> bool | None:
        rows = await self._measurements(info)
        fraction = service.progress(self.baseline, self.target, rows[-1].value if rows else None)
        if fraction is None:
            return None
        element = await info.context.loaders.one_visible(queries.elements_by_id).load(
            self.element_id
        )
        project = (
            await info.context.loaders.project_by_id.load(element.project_id) if element else None
        )
        return service.on_track(fraction, rows[-1].measured_on, project)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Indicator | None]:
        loader = info.context.loaders.one_visible(queries.indicators_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@compiled(
    text_builders(ELEMENT_DESCRIPTION, "descriptions"),
    project=owner_project,
    parent=element_parent,
    children=element_children,
    indicators=element_indicators,
)
@strawberry.type(description="A row of the Project Design Matrix (JICA's logframe).")
class PdmElement(relay.Node, FromRow):
    id: relay.NodeID[int]
    level: PdmLevel  # type: ignore[valid-type]
    description: strawberry.Private[str]  # the original (the column)
    position: int = strawberry.field(description="Orders siblings (then the id)")
    project_id: strawberry.Private[int]
    parent_id: strawberry.Private[int | None]

    description_in, descriptions = text_fields(
        ELEMENT_DESCRIPTION, DESCRIPTIONS, required="description"
    )

    @strawberry.field
    async def project(self, info: Info) -> LazyProject | None:
        return await project_node(info, self.project_id)

    @strawberry.field(description="The output of an activity; null for the other levels")
    async def parent(self, info: Info) -> PdmElement | None:
        if self.parent_id is None:
            return None
        row = await info.context.loaders.one_visible(queries.elements_by_id).load(self.parent_id)
        return PdmElement.from_row(row) if row is not None else None

    @strawberry.field(description="The activities of an output, in order")
    async def children(self, info: Info) -> list[PdmElement]:
        rows = await info.context.loaders.many_visible(queries.children_by_element).load(self.id)
        return [PdmElement.from_row(r) for r in rows]

    @strawberry.field
    async def indicators(self, info: Info) -> list[Indicator]:
        rows = await info.context.loaders.many_visible(queries.indicators_by_element).load(self.id)
        return [Indicator.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[PdmElement | None]:
        loader = info.context.loaders.one_visible(queries.elements_by_id)
        return await load_nodes(loader, node_ids, cls.from_row)


@compiled(
    overall_goal=matrix_elements(PdmLevel.OVERALL_GOAL, first=True),
    project_purpose=matrix_elements(PdmLevel.PROJECT_PURPOSE, first=True),
    outputs=matrix_elements(PdmLevel.OUTPUT),
    elements=matrix_elements(None),
)
@strawberry.type(
    description="A project's PDM as a tree: the overall goal, the project purpose, and the"
    " outputs (directly under the project) with their activities as `children`."
)
class DesignMatrix:
    overall_goal: PdmElement | None
    project_purpose: PdmElement | None
    outputs: list[PdmElement]
    elements: list[PdmElement] = strawberry.field(
        description="Every element of the matrix, flat: by position, then id"
    )


@compiled(partial=True, design_matrix=design_matrix)
@strawberry.type
class ProjectDesignMatrixFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""

    @strawberry.field(description="The project's design matrix (logframe)")
    async def design_matrix(self, info: Info) -> DesignMatrix:
        loader = info.context.loaders.many_visible(queries.elements_by_project)
        rows = [PdmElement.from_row(r) for r in await loader.load(self.id)]  # type: ignore[attr-defined]

        def first(level: PdmLevelEnum) -> PdmElement | None:
            return next((e for e in rows if e.level == level), None)

        return DesignMatrix(
            overall_goal=first(PdmLevelEnum.OVERALL_GOAL),
            project_purpose=first(PdmLevelEnum.PROJECT_PURPOSE),
            outputs=[e for e in rows if e.level == PdmLevelEnum.OUTPUT],
            elements=rows,
        )


@strawberry.type
class ProjectPdmFields(ProjectDesignMatrixFields, ProjectMaterialFields):
    """The design matrix, then the learning materials (schema.materials): the Project fields
    of both, in their order in the SDL."""


# ---- inputs and payloads -----------------------------------------------------------


@strawberry.input
class IndicatorFilter:
    project_id: strawberry.ID | None = None
    theme_id: strawberry.ID | None = strawberry.field(
        default=None, description="Projects of this theme or any of its sub-themes"
    )
    country: str | None = strawberry.field(default=None, description="A partner country")
    level: PdmLevel | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="The level of the element the indicator measures"
    )


@strawberry.input
class AddPdmElementInput:
    project_id: strawberry.ID
    level: PdmLevel  # type: ignore[valid-type]
    description: str | None = strawberry.field(default=None, description="Or give `descriptions`")
    descriptions: list[LanguageTextInput] | None = texts_input("The description")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for an activity (its output); none for the rest"
    )
    position: int | None = strawberry.field(
        default=None, description="Among siblings; default: after the last one"
    )


@strawberry.input
class UpdatePdmElementInput:
    id: strawberry.ID
    description: str | None = strawberry.UNSET
    descriptions: list[LanguageTextInput] | None = texts_input("The description", update=True)
    position: int | None = strawberry.UNSET


@strawberry.input
class AddIndicatorInput:
    element_id: strawberry.ID
    description: str | None = strawberry.field(default=None, description="Or give `descriptions`")
    descriptions: list[LanguageTextInput] | None = texts_input("The description")
    unit: str
    baseline: Decimal | None = None
    target: Decimal | None = None
    means_of_verification: str | None = None


@strawberry.input
class RecordMeasurementInput:
    indicator_id: strawberry.ID
    measured_on: dt.date
    value: Decimal
    unit: str = strawberry.field(description="Must be the indicator's unit")
    note: str | None = None


@strawberry.type
class PdmElementPayload:
    element: PdmElement | None = None
    errors: list[PdmError] = strawberry.field(default_factory=list)


@strawberry.type
class IndicatorPayload:
    indicator: Indicator | None = None
    errors: list[PdmError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordMeasurementPayload:
    indicator: Indicator | None = None
    measurement: IndicatorMeasurement | None = None
    errors: list[PdmError] = strawberry.field(default_factory=list)
