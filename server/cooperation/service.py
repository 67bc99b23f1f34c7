"""Technical cooperation components of a project: expert dispatch, training, equipment.

Every record belongs to one project and is visible exactly when its project is: each read
joins Project and applies `project_visible(principal)`. Writes need an editor of the
project (staff or its principal investigators).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pycountry
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.visibility import project_visible
from server.cooperation.errors import CooperationErrorCode
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, NotFound
from server.core.validation import clean_text, normalize_country
from server.models import (
    Affiliation,
    DispatchCounterpart,
    EquipmentItem,
    ExpertDispatch,
    Institution,
    Project,
    ProjectInstitution,
    Researcher,
    Theme,
    TrainingCourse,
    TrainingParticipant,
)
from server.models.enums import CourseType, EquipmentStatus
from server.projects.queries import partner_countries
from server.projects.service import (
    PARTNER_ROLES,
    check_within_project,
    require_project_editor,
    visible_project,
)
from server.texts.service import PendingText, check_text_field, write_texts

# Knowledge Co-Creation Program courses are held in Japan; the others outside it.
KCCP_COURSES = frozenset(
    {CourseType.GROUP_REGION_FOCUS, CourseType.COUNTRY_FOCUS, CourseType.YOUNG_LEADERS}
)
S = EquipmentStatus
# Equipment goes forward: once delivered it never returns to `ordered`; an item out of
# service may be repaired and used again. Keeping the status is allowed (to correct the
# delivery date).
STATUS_MOVES: dict[EquipmentStatus, frozenset[EquipmentStatus]] = {
    S.ORDERED: frozenset({S.ORDERED, S.DELIVERED, S.IN_USE}),
    S.DELIVERED: frozenset({S.DELIVERED, S.IN_USE, S.OUT_OF_SERVICE}),
    S.IN_USE: frozenset({S.IN_USE, S.OUT_OF_SERVICE}),
    S.OUT_OF_SERVICE: frozenset({S.OUT_OF_SERVICE, S.IN_USE}),
}
MAX_VALUE = Decimal(10) ** 14  # Numeric(16, 2)
CENTS = Decimal("0.01")


def next_statuses(current: EquipmentStatus) -> list[EquipmentStatus]:
    """The statuses an item may move to from `current` (not staying), in the enum's order."""
    moves = STATUS_MOVES[current] - {current}
    return sorted(moves, key=list(EquipmentStatus).index)


# ---- shared checks -----------------------------------------------------------------


async def _editable(
    session: AsyncSession, principal: Principal, model: Any, record_id: int, what: str, field: str
) -> tuple[Any, Project]:
    """A record of a project the caller sees and may edit; NotFound / Forbidden otherwise."""
    row = (
        await session.execute(
            select(model, Project)
            .join(Project, Project.id == model.project_id)
            .where(model.id == record_id, project_visible(principal))
        )
    ).first()
    if row is None:
        raise NotFound(what, field)
    record, project = row
    await require_project_editor(session, principal, project)
    return record, project


async def _editable_project(
    session: AsyncSession, principal: Principal, project_id: int
) -> Project:
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    return project


def _country(errors: Collector, raw: str | None, field: str) -> str | None:
    if raw is None or not raw.strip():
        errors.add(ErrorCode.REQUIRED, f"{field} is required", field)
        return None
    code = normalize_country(raw)
    if code is None:
        errors.add(
            ErrorCode.INVALID_COUNTRY, f"{raw[:10]!r} is not an ISO 3166-1 alpha-2 code", field
        )
    return code


async def _institution(
    session: AsyncSession, errors: Collector, institution_id: int, field: str
) -> Institution | None:
    institution = await session.get(Institution, institution_id)
    if institution is None:
        errors.add(ErrorCode.NOT_FOUND, "institution not found", field)
    return institution


async def _participates(
    session: AsyncSession, project_id: int, institution_id: int, roles: Sequence[Any] = ()
) -> bool:
    stmt = select(ProjectInstitution.id).where(
        ProjectInstitution.project_id == project_id,
        ProjectInstitution.institution_id == institution_id,
    )
    if roles:
        stmt = stmt.where(ProjectInstitution.role.in_(roles))
    return await session.scalar(stmt.limit(1)) is not None


# ---- expert dispatch ---------------------------------------------------------------


async def _partner_researchers(
    session: AsyncSession,
    researcher_ids: Sequence[int],
    countries: set[str],
    start: dt.date,
    end: dt.date | None,
) -> set[int]:
    """Researchers affiliated, at some time during [start, end], with an institution in one
    of `countries`."""
    rows = await session.scalars(
        select(Affiliation.researcher_id)
        .join(Institution, Institution.id == Affiliation.institution_id)
        .where(
            Affiliation.researcher_id.in_(researcher_ids),
            Institution.country_code.in_(countries),
            or_(Affiliation.end_date.is_(None), Affiliation.end_date >= start),
            or_(Affiliation.start_date.is_(None), Affiliation.start_date <= (end or start)),
        )
    )
    return set(rows)


async def create_expert_dispatch(
    session: AsyncSession, principal: Principal, project_id: int, values: dict[str, Any]
) -> ExpertDispatch:
    """values: expert_id, origin_country, host_institution_id, theme_id, start_date,
    end_date, purpose, counterpart_ids."""
    project = await _editable_project(session, principal, project_id)
    partners = await partner_countries(session, project.id)
    errors = Collector()
    if await session.get(Researcher, values["expert_id"]) is None:
        errors.add(ErrorCode.NOT_FOUND, "expert not found", "expertId")
    origin = _country(errors, values.get("origin_country"), "originCountry")
    if origin is not None and origin in partners:
        errors.add(
            CooperationErrorCode.INVALID_ORIGIN,
            "an expert comes from Japan or a third country, not from a partner country",
            "originCountry",
        )
    host = await _institution(session, errors, values["host_institution_id"], "hostInstitutionId")
    if host is not None and host.country_code not in partners:
        errors.add(
            CooperationErrorCode.HOST_NOT_IN_PARTNER_COUNTRY,
            "the host institution must be in one of the project's partner countries",
            "hostInstitutionId",
        )
    theme_id = values.get("theme_id")
    if theme_id is not None and await session.get(Theme, theme_id) is None:
        errors.add(ErrorCode.NOT_FOUND, "theme not found", "themeId")
    start, end = values["start_date"], values.get("end_date")
    check_within_project(errors, project, start, end)
    purpose = clean_text(errors, "purpose", values.get("purpose"), max_len=5000)
    counterpart_ids = sorted(set(values.get("counterpart_ids") or []))
    if counterpart_ids:
        known = set(
            await session.scalars(select(Researcher.id).where(Researcher.id.in_(counterpart_ids)))
        )
        if missing := [r for r in counterpart_ids if r not in known]:
            errors.add(ErrorCode.NOT_FOUND, f"unknown researchers: {missing}", "counterpartIds")
        partner = await _partner_researchers(session, counterpart_ids, partners, start, end)
        if outsiders := [r for r in counterpart_ids if r in known and r not in partner]:
            errors.add(
                CooperationErrorCode.COUNTERPART_NOT_PARTNER,
                "counterparts must be affiliated with an institution in a partner country"
                f" during the dispatch; not so: researchers {outsiders}",
                "counterpartIds",
            )
    errors.raise_if_any()
    dispatch = ExpertDispatch(
        project_id=project.id,
        expert_id=values["expert_id"],
        origin_country=origin,
        host_institution_id=values["host_institution_id"],
        theme_id=theme_id,
        start_date=start,
        end_date=end,
        purpose=purpose,
    )
    session.add(dispatch)
    await session.flush()
    session.add_all(
        [DispatchCounterpart(dispatch_id=dispatch.id, researcher_id=r) for r in counterpart_ids]
    )
    project.updated_at = utcnow()
    await session.flush()
    return dispatch


# ---- technical training --------------------------------------------------------------


COURSE_FIELDS = (
    "title",
    "course_type",
    "host_country",
    "host_institution_id",
    "start_date",
    "end_date",
    "outcome_notes",
)
_WHERE = frozenset({"course_type", "host_country", "host_institution_id"})
# language-tagged: (column, its list in each language, max length, required)
COURSE_TEXTS = (
    ("title", "titles", 500, True),
    ("outcome_notes", "outcome_notes_texts", 20_000, False),
)


def host_country_problem(course_type: CourseType, host: str, partners: set[str]) -> str | None:
    if course_type in KCCP_COURSES and host != "JP":
        return "Knowledge Co-Creation Program courses are held in Japan"
    if course_type == CourseType.THIRD_COUNTRY and (host == "JP" or host in partners):
        return "third-country training is held neither in Japan nor in a partner country"
    if course_type == CourseType.IN_COUNTRY and host not in partners:
        return "in-country training is held in one of the project's partner countries"
    return None


async def _check_course(
    session: AsyncSession,
    project: Project,
    values: dict[str, Any],
    changed: set[str],
    sent: dict[str, Any],
    texts: list[PendingText],
    *,
    creating: bool,
) -> dict[str, Any]:
    """Validate the course as it would be (`values` has every field); `changed` names the
    fields the caller sent (`sent`), whose text is cleaned and reported; the
    language-tagged writes go into `texts`."""
    errors = Collector()
    out = dict(values)
    for field, plural, limit, required in COURSE_TEXTS:
        if field in changed:
            pending = check_text_field(
                errors, sent, field, plural, max_len=limit, required=required, creating=creating
            )
            if pending is not None:
                out[field] = pending.column
                texts.append(pending)
    if values.get("course_type") is None:
        errors.add(ErrorCode.REQUIRED, "courseType is required", "courseType")
    host = values.get("host_country")
    if "host_country" in changed:
        host = out["host_country"] = _country(errors, host, "hostCountry")
    # Only what changes is checked again: a course recorded under older project data
    # (partner countries, period) keeps its other fields as they are.
    if host is not None and values.get("course_type") is not None and changed & _WHERE:
        partners = await partner_countries(session, project.id)
        if problem := host_country_problem(CourseType(values["course_type"]), host, partners):
            errors.add(CooperationErrorCode.INVALID_HOST_COUNTRY, problem, "hostCountry")
    institution_id = values.get("host_institution_id")
    if institution_id is not None and {"host_institution_id", "host_country"} & changed:
        institution = await _institution(session, errors, institution_id, "hostInstitutionId")
        if institution is not None and host is not None and institution.country_code != host:
            errors.add(
                CooperationErrorCode.INVALID_HOST_COUNTRY,
                "the host institution is not in the host country",
                "hostInstitutionId",
            )
    if values.get("start_date") is None:
        errors.add(ErrorCode.REQUIRED, "startDate is required", "startDate")
    elif {"start_date", "end_date"} & changed:
        check_within_project(errors, project, values["start_date"], values.get("end_date"))
    errors.raise_if_any()
    return out


async def create_training_course(
    session: AsyncSession, principal: Principal, project_id: int, values: dict[str, Any]
) -> TrainingCourse:
    project = await _editable_project(session, principal, project_id)
    full = {key: values.get(key) for key in COURSE_FIELDS}
    texts: list[PendingText] = []
    fields = await _check_course(
        session, project, full, set(COURSE_FIELDS), values, texts, creating=True
    )
    course = TrainingCourse(project_id=project.id, **fields)
    session.add(course)
    project.updated_at = utcnow()
    await session.flush()
    await write_texts(session, "course", course.id, texts)
    return course


async def update_training_course(
    session: AsyncSession, principal: Principal, course_id: int, values: dict[str, Any]
) -> TrainingCourse:
    """values: any of COURSE_FIELDS; what is left out stays as it is."""
    course, project = await _editable(
        session, principal, TrainingCourse, course_id, "training course", "id"
    )
    changed = {key for key in COURSE_FIELDS if key in values}
    changed |= {field for field, plural, _, _ in COURSE_TEXTS if plural in values}
    if not changed:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "no field to update was given")
    full = {key: values[key] if key in values else getattr(course, key) for key in COURSE_FIELDS}
    texts: list[PendingText] = []
    fields = await _check_course(session, project, full, changed, values, texts, creating=False)
    for key in changed:
        setattr(course, key, fields[key])
    project.updated_at = utcnow()
    await session.flush()
    await write_texts(session, "course", course.id, texts)
    return course


async def add_training_participant(
    session: AsyncSession,
    principal: Principal,
    course_id: int,
    researcher_id: int,
    institution_id: int,
) -> TrainingParticipant:
    """A trainee comes from a partner institution of the project and works there."""
    course, project = await _editable(
        session, principal, TrainingCourse, course_id, "training course", "courseId"
    )
    if await session.get(Researcher, researcher_id) is None:
        raise NotFound("researcher", "researcherId")
    errors = Collector()
    if await _institution(session, errors, institution_id, "institutionId") is not None:
        if not await _participates(session, project.id, institution_id, PARTNER_ROLES):
            errors.add(
                CooperationErrorCode.TRAINEE_NOT_FROM_PARTNER,
                "trainees come from a partner institution of the project",
                "institutionId",
            )
        if not await session.scalar(
            select(Affiliation.id)
            .where(
                Affiliation.researcher_id == researcher_id,
                Affiliation.institution_id == institution_id,
            )
            .limit(1)
        ):
            errors.add(
                CooperationErrorCode.TRAINEE_NOT_AFFILIATED,
                "the researcher has no affiliation with that institution",
                "researcherId",
            )
    if await session.get(TrainingParticipant, (course.id, researcher_id)) is not None:
        errors.add(
            ErrorCode.DUPLICATE, "the researcher already takes part in this course", "researcherId"
        )
    errors.raise_if_any()
    participant = TrainingParticipant(
        course_id=course.id, researcher_id=researcher_id, institution_id=institution_id
    )
    session.add(participant)
    project.updated_at = utcnow()
    await session.flush()
    return participant


# ---- equipment provision -------------------------------------------------------------


def _currency(errors: Collector, raw: str | None, value: Decimal | None) -> str | None:
    if raw is None or not raw.strip():
        if value is not None:
            errors.add(ErrorCode.REQUIRED, "a value needs its currency (ISO 4217 code)", "currency")
        return None
    code = raw.strip().upper()
    if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
        errors.add(
            CooperationErrorCode.UNKNOWN_CURRENCY,
            f"{raw[:10]!r} is not an ISO 4217 currency code",
            "currency",
        )
    return code


def _value(errors: Collector, value: Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if not value.is_finite() or value < 0:
        errors.add(
            CooperationErrorCode.INVALID_VALUE, "value must be a number, zero or more", "value"
        )
    elif value >= MAX_VALUE or value != value.quantize(CENTS):
        errors.add(
            CooperationErrorCode.INVALID_VALUE,
            "value must be below 10^14 with at most 2 decimals",
            "value",
        )
    else:
        return value.quantize(CENTS)  # as the database returns it: 2 decimals
    return value


async def create_equipment_item(
    session: AsyncSession, principal: Principal, project_id: int, values: dict[str, Any]
) -> EquipmentItem:
    """values: item, category, quantity, value, currency, recipient_institution_id,
    delivery_date, status."""
    project = await _editable_project(session, principal, project_id)
    errors = Collector()
    item = clean_text(errors, "item", values.get("item"), max_len=300, required=True)
    category = clean_text(errors, "category", values.get("category"), max_len=100)
    quantity = values.get("quantity", 1)
    if quantity is None or quantity <= 0:
        errors.add(CooperationErrorCode.INVALID_QUANTITY, "quantity must be 1 or more", "quantity")
    value = _value(errors, values.get("value"))
    currency = _currency(errors, values.get("currency"), value)
    recipient_id = values["recipient_institution_id"]
    if await _institution(session, errors, recipient_id, "recipientInstitutionId") is not None:
        if not await _participates(session, project.id, recipient_id):
            errors.add(
                ErrorCode.NOT_PARTICIPATING,
                "the recipient institution does not take part in the project",
                "recipientInstitutionId",
            )
    status = EquipmentStatus(values.get("status") or EquipmentStatus.ORDERED)
    delivery = values.get("delivery_date")
    _check_delivery(errors, project, status, delivery)
    errors.raise_if_any()
    equipment = EquipmentItem(
        project_id=project.id,
        item=item,
        category=category,
        quantity=quantity,
        value=value,
        currency=currency,
        recipient_institution_id=recipient_id,
        delivery_date=delivery,
        status=status,
    )
    session.add(equipment)
    project.updated_at = utcnow()
    await session.flush()
    return equipment


def _check_delivery(
    errors: Collector,
    project: Project,
    status: EquipmentStatus,
    delivery: dt.date | None,
    *,
    changed: bool = True,
) -> None:
    """Equipment delivered (or later) has a delivery date, inside the project period."""
    if status != EquipmentStatus.ORDERED and delivery is None:
        errors.add(
            ErrorCode.REQUIRED, "equipment past `ordered` needs its delivery date", "deliveryDate"
        )
    if changed:
        check_within_project(errors, project, delivery, None, start_field="deliveryDate")


async def update_equipment_status(
    session: AsyncSession,
    principal: Principal,
    equipment_id: int,
    status: EquipmentStatus,
    delivery_date: dt.date | None = None,
) -> EquipmentItem:
    equipment, project = await _editable(
        session, principal, EquipmentItem, equipment_id, "equipment item", "id"
    )
    errors = Collector()
    current = EquipmentStatus(equipment.status)
    if status not in STATUS_MOVES[current]:
        allowed = ", ".join(sorted(s.value for s in STATUS_MOVES[current]))
        errors.add(
            CooperationErrorCode.INVALID_STATUS_CHANGE,
            f"equipment cannot go from {current.value} to {status.value} (allowed: {allowed})",
            "status",
        )
    if status == current and delivery_date is None:
        errors.add(
            ErrorCode.NOTHING_TO_UPDATE, "the status is unchanged and no date was given", "status"
        )
    delivery = delivery_date if delivery_date is not None else equipment.delivery_date
    _check_delivery(errors, project, status, delivery, changed=delivery_date is not None)
    errors.raise_if_any()
    equipment.status = status
    equipment.delivery_date = delivery
    project.updated_at = utcnow()
    await session.flush()
    return equipment
