"""The Project Design Matrix (JICA's logframe): its elements, their objectively verifiable
indicators and the dated measurements of those indicators.

Structure (one place, enforced here):

- a project has at most one overall goal and one project purpose (DUPLICATE_LEVEL); both are
  top-level elements (no parent);
- outputs hang directly under the project (no parent): a PDM is often drafted outputs first,
  and with a single project purpose per project the output -> purpose link is implicit;
- an activity needs an output of the same project as its parent (INVALID_PARENT);
- `position` orders siblings (same project, level and parent), then the id.

Reads follow the project: an element, indicator or measurement is visible iff its project is
(`project_visible`, joined into every query). A dataset may later be linked to an indicator
as its evidence; that link belongs to the datasets module.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import require_signed_in
from server.access.visibility import project_visible
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, NotFound
from server.core.validation import clean_text
from server.models import (
    Indicator,
    IndicatorMeasurement,
    PdmElement,
    Project,
)
from server.models.enums import PdmLevel
from server.pdm.errors import PdmErrorCode
from server.projects.service import (
    check_within_project,
    require_project_editor,
    visible_project,
)
from server.texts.service import (
    PendingText,
    TextValue,
    check_text_field,
    sent_text,
    write_texts,
)

SINGLE_LEVELS = (PdmLevel.OVERALL_GOAL, PdmLevel.PROJECT_PURPOSE)
TOP_LEVELS = (PdmLevel.OVERALL_GOAL, PdmLevel.PROJECT_PURPOSE, PdmLevel.OUTPUT)
UNIT_MAX = 50  # indicators.unit and indicator_measurements.unit are String(50)
DESCRIPTION_MAX = 5000
# Numeric(20, 6): at most 14 digits before the decimal point, 6 after.
NUMBER_DIGITS = 14  # |value| < 10^14
NUMBER_PLACES = 6


def progress(
    baseline: Decimal | None, target: Decimal | None, latest: Decimal | None
) -> Decimal | None:
    """(latest - baseline) / (target - baseline): 0 at the baseline, 1 at the target; not
    clamped (overshooting gives > 1, regressing < 0). None when it cannot be computed."""
    if baseline is None or target is None or latest is None or target == baseline:
        return None
    return (latest - baseline) / (target - baseline)


def on_track(
    fraction: Decimal | None, measured_on: dt.date | None, project: Project | None
) -> bool | None:
    """Whether progress keeps up with a linear plan from the project's start (baseline) to its
    end (target) at the date of the latest measurement. None without progress or period."""
    if fraction is None or measured_on is None or project is None:
        return None
    start, end = project.start_date, project.end_date
    if start is None or end is None or end <= start:
        return None
    elapsed = (measured_on - start).days / (end - start).days
    return float(fraction) >= min(max(elapsed, 0.0), 1.0)


# ---- operations --------------------------------------------------------------------


def check_number(errors: Collector, field: str, value: Decimal | None) -> Decimal | None:
    """A finite decimal that fits Numeric(20, 6), or INVALID_NUMBER. Read from the digits
    and the exponent alone: arithmetic on an exponent past the decimal context's range
    (1E+999999999999999999) raises Overflow or rounds a tiny value away."""
    if value is None:
        return None
    if not value.is_finite() or (not value.is_zero() and value.adjusted() >= NUMBER_DIGITS):
        errors.add(
            PdmErrorCode.INVALID_NUMBER, f"{field} must be a finite number below 10^14", field
        )
        return None
    if _places(value) > NUMBER_PLACES:
        errors.add(
            PdmErrorCode.INVALID_NUMBER,
            f"{field} has more than {NUMBER_PLACES} decimal places",
            field,
        )
        return None
    return value


def _places(value: Decimal) -> int:
    """Decimal places that are not trailing zeros: 1.500 has 1, 1E-7 has 7, 100 has 0."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    kept = "".join(map(str, digits)).rstrip("0")
    if not kept:
        return 0  # zero
    return max(0, -(exponent + len(digits) - len(kept)))


def _check_position(errors: Collector, position: int | None) -> None:
    if position is not None and not 0 <= position <= 1_000_000:
        errors.add(
            PdmErrorCode.INVALID_POSITION, "position must be between 0 and 1000000", "position"
        )


async def _editable_element(
    session: AsyncSession, principal: Principal, element_id: int, field: str
) -> tuple[PdmElement, Project]:
    require_signed_in(principal)
    row = (
        await session.execute(
            select(PdmElement, Project)
            .join(Project, Project.id == PdmElement.project_id)
            .where(PdmElement.id == element_id, project_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound("PDM element", field)
    element, project = row
    await require_project_editor(session, principal, project)
    return element, project


async def add_element(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    level: PdmLevel,
    description: str | None,
    parent_id: int | None = None,
    position: int | None = None,
    *,
    descriptions: list[TextValue] | None = None,
) -> PdmElement:
    """`description` one value (the original, in `und`), or `descriptions` in each
    language."""
    require_signed_in(principal)
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    errors = Collector()
    sent = sent_text("description", "descriptions", description, descriptions)
    text = _description(errors, sent, creating=True)
    _check_position(errors, position)
    if level in SINGLE_LEVELS and await session.scalar(
        select(PdmElement.id).where(PdmElement.project_id == project.id, PdmElement.level == level)
    ):
        errors.add(
            PdmErrorCode.DUPLICATE_LEVEL,
            f"the project already has its {level.value.replace('_', ' ')}",
            "level",
        )
    if level in TOP_LEVELS and parent_id is not None:
        errors.add(
            PdmErrorCode.INVALID_PARENT,
            f"a {level.value.replace('_', ' ')} hangs directly under the project: no parent",
            "parentId",
        )
    if level == PdmLevel.ACTIVITY:
        parent = await session.get(PdmElement, parent_id) if parent_id is not None else None
        if parent is None or parent.project_id != project.id:
            errors.add(
                PdmErrorCode.INVALID_PARENT,
                "an activity needs an output of the same project",
                "parentId",
            )
        elif parent.level != PdmLevel.OUTPUT:
            errors.add(
                PdmErrorCode.INVALID_PARENT,
                f"an activity hangs under an output, not a {parent.level.value.replace('_', ' ')}",
                "parentId",
            )
    errors.raise_if_any()
    if position is None:
        parent_clause = (
            PdmElement.parent_id.is_(None)
            if parent_id is None
            else PdmElement.parent_id == parent_id
        )
        last = await session.scalar(
            select(func.max(PdmElement.position)).where(
                PdmElement.project_id == project.id, PdmElement.level == level, parent_clause
            )
        )
        position = 0 if last is None else last + 1
    element = PdmElement(
        project_id=project.id,
        level=level,
        parent_id=parent_id,
        position=position,
        description=text.column if text is not None else None,
    )
    session.add(element)
    project.updated_at = utcnow()
    await session.flush()
    await write_texts(session, "pdm_element", element.id, [text])
    return element


def _description(errors: Collector, values: dict[str, Any], creating: bool) -> PendingText | None:
    """A description sent as one value or in each language (required)."""
    return check_text_field(
        errors,
        values,
        "description",
        "descriptions",
        max_len=DESCRIPTION_MAX,
        required=True,
        creating=creating,
    )


async def update_element(
    session: AsyncSession, principal: Principal, element_id: int, values: dict[str, Any]
) -> PdmElement:
    """`values` may hold description (or descriptions) and position (what the client
    sent)."""
    element, project = await _editable_element(session, principal, element_id, "id")
    errors = Collector()
    fields: dict[str, Any] = {}
    text = _description(errors, values, creating=False)
    if text is not None:
        fields["description"] = text.column
    if values.get("position") is not None:
        _check_position(errors, values["position"])
        fields["position"] = values["position"]
    errors.raise_if_any()
    if not fields:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "no field to update was given")
    for key, value in fields.items():
        setattr(element, key, value)
    project.updated_at = utcnow()
    await session.flush()
    await write_texts(session, "pdm_element", element.id, [text])
    return element


def clean_unit(errors: Collector, field: str, value: str | None, *, code: StrEnum) -> str | None:
    """A unit is required: `code` (REQUIRED or MISSING_UNIT) when empty or blank."""
    if value is None or not value.strip():
        errors.add(code, f"{field} is required", field)
        return None
    return clean_text(errors, field, value, max_len=UNIT_MAX)


async def add_indicator(
    session: AsyncSession,
    principal: Principal,
    element_id: int,
    values: dict[str, Any],
) -> Indicator:
    """`values`: description (or descriptions), unit, baseline?, target?,
    means_of_verification?."""
    element, project = await _editable_element(session, principal, element_id, "elementId")
    errors = Collector()
    description = _description(errors, values, creating=True)
    unit = clean_unit(errors, "unit", values.get("unit"), code=PdmErrorCode.MISSING_UNIT)
    baseline = check_number(errors, "baseline", values.get("baseline"))
    target = check_number(errors, "target", values.get("target"))
    means = clean_text(
        errors,
        "meansOfVerification",
        values.get("means_of_verification"),
        max_len=DESCRIPTION_MAX,
    )
    errors.raise_if_any()
    indicator = Indicator(
        element_id=element.id,
        description=description.column if description is not None else None,
        unit=unit,
        baseline=baseline,
        target=target,
        means_of_verification=means,
    )
    session.add(indicator)
    project.updated_at = utcnow()
    await session.flush()
    await write_texts(session, "indicator", indicator.id, [description])
    return indicator


def same_unit(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


async def record_measurement(
    session: AsyncSession,
    principal: Principal,
    indicator_id: int,
    measured_on: dt.date,
    value: Decimal,
    unit: str | None,
    note: str | None = None,
    *,
    today: dt.date | None = None,
) -> tuple[Indicator, IndicatorMeasurement]:
    require_signed_in(principal)
    row = (
        await session.execute(
            select(Indicator, Project)
            .join(PdmElement, PdmElement.id == Indicator.element_id)
            .join(Project, Project.id == PdmElement.project_id)
            .where(Indicator.id == indicator_id, project_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound("indicator", "indicatorId")
    indicator, project = row
    await require_project_editor(session, principal, project)
    errors = Collector()
    clean = clean_unit(errors, "unit", unit, code=PdmErrorCode.MISSING_UNIT)
    if clean is not None and not same_unit(clean, indicator.unit):
        errors.add(
            PdmErrorCode.UNIT_MISMATCH,
            f"the indicator is measured in {indicator.unit!r}, not {clean!r}",
            "unit",
        )
    number = check_number(errors, "value", value)
    text = clean_text(errors, "note", note, max_len=DESCRIPTION_MAX)
    if measured_on > (today or utcnow().date()):
        errors.add(ErrorCode.FUTURE_DATE, "measuredOn is in the future", "measuredOn")
    check_within_project(errors, project, measured_on, None, start_field="measuredOn")
    errors.raise_if_any()
    measurement = IndicatorMeasurement(
        indicator_id=indicator.id,
        measured_on=measured_on,
        value=number,
        unit=indicator.unit,  # the indicator's spelling, so every measurement reads alike
        note=text,
    )
    session.add(measurement)
    project.updated_at = utcnow()
    await session.flush()
    return indicator, measurement
