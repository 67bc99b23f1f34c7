"""SATREPS joint research projects: membership, partner countries and the lifecycle."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import (
    CURATORS,
    STAFF,
    admin_override,
    require_role,
    require_signed_in,
)
from server.access.visibility import project_visible
from server.core.db import utcnow
from server.core.errors import Collector, DomainError, ErrorCode, Forbidden, NotFound
from server.core.languages import UNDETERMINED
from server.core.validation import check_period, clean_text, normalize_country
from server.models import (
    Institution,
    PhaseTransition,
    Project,
    ProjectCountry,
    ProjectInstitution,
    ProjectMember,
    ProjectTheme,
    Researcher,
    Theme,
)
from server.models.enums import InstitutionRole, MemberRole, ProjectPhase
from server.notifications.events import emit
from server.projects.errors import ProjectErrorCode
from server.projects.queries import completion_date, partner_countries
from server.provenance.decisions import record_phase_transition
from server.texts.service import PendingText, check_text_field, write_text

P = ProjectPhase
# The implementation process of the seed document: identification/formulation, request
# and approval, planning (ex-ante evaluation), implementation (R/D signed), completion
# (terminal evaluation), follow-up, ex-post evaluation; a proposal may be rejected or
# withdrawn before the work starts.
TRANSITIONS: dict[ProjectPhase, frozenset[ProjectPhase]] = {
    P.IDENTIFICATION: frozenset({P.REQUESTED, P.WITHDRAWN}),
    P.REQUESTED: frozenset({P.APPROVED, P.REJECTED, P.WITHDRAWN}),
    P.APPROVED: frozenset({P.PLANNING, P.WITHDRAWN}),
    P.PLANNING: frozenset({P.IMPLEMENTATION, P.WITHDRAWN}),
    P.IMPLEMENTATION: frozenset({P.COMPLETED}),
    P.COMPLETED: frozenset({P.FOLLOW_UP, P.EX_POST_EVALUATED}),
    P.FOLLOW_UP: frozenset({P.EX_POST_EVALUATED}),
    P.EX_POST_EVALUATED: frozenset(),
    P.REJECTED: frozenset(),
    P.WITHDRAWN: frozenset(),
}
JAPANESE_ROLES = (InstitutionRole.JAPANESE_LEAD, InstitutionRole.JAPANESE_PARTICIPANT)
PARTNER_ROLES = (InstitutionRole.PARTNER_LEAD, InstitutionRole.PARTNER_PARTICIPANT)
LEAD_ROLES = (InstitutionRole.JAPANESE_LEAD, InstitutionRole.PARTNER_LEAD)
PI_ROLES = (MemberRole.JAPANESE_PI, MemberRole.PARTNER_PI)
EX_POST_DELAY_YEARS = 2  # the seed: ex-post evaluation two or three years after completion


async def visible_project(session: AsyncSession, principal: Principal, project_id: int) -> Project:
    """The project if the caller may see it; NotFound (field projectId) otherwise."""
    project = await session.scalar(
        select(Project).where(Project.id == project_id, project_visible(principal))
    )
    if project is None:
        raise NotFound("project", "projectId")
    return project


async def require_project_editor(
    session: AsyncSession, principal: Principal, project: Project
) -> None:
    """Staff, or a principal investigator of this project, may change what belongs to it."""
    require_signed_in(principal)
    if principal.has_role(*STAFF):
        return
    if principal.researcher_id is not None and await session.scalar(
        select(ProjectMember.id).where(
            ProjectMember.project_id == project.id,
            ProjectMember.researcher_id == principal.researcher_id,
            ProjectMember.role.in_(PI_ROLES),
        )
    ):
        return
    raise Forbidden("only staff or the project's principal investigators may change it")


async def _checked_links(
    session: AsyncSession,
    errors: Collector,
    theme_ids: Sequence[int] | None,
    countries: Sequence[str] | None,
) -> tuple[list[int] | None, list[str] | None]:
    clean_themes = None
    if theme_ids is not None:
        clean_themes = sorted(set(theme_ids))
        known = set(await session.scalars(select(Theme.id).where(Theme.id.in_(clean_themes))))
        if missing := [t for t in clean_themes if t not in known]:
            errors.add(ErrorCode.NOT_FOUND, f"unknown themes: {missing}", "themeIds")
    clean_countries = None
    if countries is not None:
        clean_countries = []
        for raw in countries:
            code = normalize_country(raw)
            if code is None:
                errors.add(
                    ErrorCode.INVALID_COUNTRY,
                    f"{raw[:10]!r} is not an ISO 3166-1 alpha-2 code",
                    "partnerCountries",
                )
            elif code == "JP":
                errors.add(
                    ErrorCode.INVALID_COUNTRY,
                    "Japan cannot be a partner country",
                    "partnerCountries",
                )
            elif code not in clean_countries:
                clean_countries.append(code)
    return clean_themes, clean_countries


PROJECT_TEXTS = (
    ("title", "titles", 500),
    ("acronym", "acronyms", 32),
    ("summary", "summaries", 20_000),
)


def _check_project_fields(
    errors: Collector, values: dict[str, Any], creating: bool
) -> tuple[dict[str, Any], list[PendingText]]:
    out: dict[str, Any] = {}
    texts: list[PendingText] = []
    for field, plural, limit in PROJECT_TEXTS:
        pending = check_text_field(
            errors,
            values,
            field,
            plural,
            max_len=limit,
            required=field == "title",
            creating=creating,
        )
        if pending is not None:
            out[field] = pending.column
            texts.append(pending)
    for key in ("start_date", "end_date"):
        if key in values:
            out[key] = values[key]
    return out, texts


async def _write_texts(session: AsyncSession, project_id: int, texts: list[PendingText]) -> None:
    for pending in texts:
        await write_text(session, "project", project_id, pending, UNDETERMINED)


async def _replace_links(
    session: AsyncSession, project_id: int, themes: list[int] | None, countries: list[str] | None
) -> None:
    if themes is not None:
        await session.execute(delete(ProjectTheme).where(ProjectTheme.project_id == project_id))
        session.add_all([ProjectTheme(project_id=project_id, theme_id=t) for t in themes])
    if countries is not None:
        await session.execute(delete(ProjectCountry).where(ProjectCountry.project_id == project_id))
        session.add_all([ProjectCountry(project_id=project_id, country_code=c) for c in countries])
    await session.flush()


async def create_project(
    session: AsyncSession, principal: Principal, values: dict[str, Any]
) -> Project:
    require_role(principal, *CURATORS)
    errors = Collector()
    fields, texts = _check_project_fields(errors, values, creating=True)
    check_period(errors, fields.get("start_date"), fields.get("end_date"))
    themes, countries = await _checked_links(
        session, errors, values.get("theme_ids") or [], values.get("partner_countries") or []
    )
    errors.raise_if_any()
    project = Project(**fields, phase=ProjectPhase.IDENTIFICATION)
    session.add(project)
    await session.flush()
    session.add(
        PhaseTransition(
            project_id=project.id,
            from_phase=None,
            to_phase=ProjectPhase.IDENTIFICATION,
            account_id=principal.account_id,
            note="created",
        )
    )
    await _replace_links(session, project.id, themes, countries)
    await _write_texts(session, project.id, texts)
    return project


async def update_project(
    session: AsyncSession, principal: Principal, project_id: int, values: dict[str, Any]
) -> Project:
    require_signed_in(principal)
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    errors = Collector()
    fields, texts = _check_project_fields(errors, values, creating=False)
    check_period(
        errors,
        fields.get("start_date", project.start_date),
        fields.get("end_date", project.end_date),
    )
    themes, countries = await _checked_links(
        session, errors, values.get("theme_ids"), values.get("partner_countries")
    )
    errors.raise_if_any()
    if not fields and themes is None and countries is None:
        raise DomainError.one(ErrorCode.NOTHING_TO_UPDATE, "no field to update was given")
    for key, value in fields.items():
        setattr(project, key, value)
    project.updated_at = utcnow()
    await _replace_links(session, project.id, themes, countries)
    await _write_texts(session, project.id, texts)
    return project


def check_within_project(
    errors: Collector,
    project: Project,
    start: dt.date | None,
    end: dt.date | None,
    *,
    start_field: str = "startDate",
    end_field: str = "endDate",
) -> None:
    """Dates of a project's activities must fall inside the project's period (when known)."""
    check_period(errors, start, end, end_field)
    for value, field in ((start, start_field), (end, end_field)):
        if value is None:
            continue
        if project.start_date is not None and value < project.start_date:
            errors.add(
                ErrorCode.OUTSIDE_PROJECT_PERIOD, f"{field} is before the project starts", field
            )
        elif project.end_date is not None and value > project.end_date:
            errors.add(
                ErrorCode.OUTSIDE_PROJECT_PERIOD, f"{field} is after the project ends", field
            )


def _role_country_error(role: InstitutionRole, country: str, partners: set[str]) -> str | None:
    if role in JAPANESE_ROLES and country != "JP":
        return "a Japanese role needs an institution in Japan"
    if role in PARTNER_ROLES and country not in partners:
        return "a partner role needs an institution in one of the project's partner countries"
    if role == InstitutionRole.THIRD_COUNTRY and (country == "JP" or country in partners):
        return "a third-country institution must be neither Japanese nor from a partner country"
    return None


async def add_project_institution(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    institution_id: int,
    role: InstitutionRole,
) -> ProjectInstitution:
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    institution = await session.get(Institution, institution_id)
    if institution is None:
        raise NotFound("institution", "institutionId")
    errors = Collector()
    problem = _role_country_error(
        role, institution.country_code, await partner_countries(session, project.id)
    )
    if problem:
        errors.add(ProjectErrorCode.ROLE_COUNTRY_MISMATCH, problem, "role")
    if await session.scalar(
        select(ProjectInstitution.id).where(
            ProjectInstitution.project_id == project.id,
            ProjectInstitution.institution_id == institution_id,
        )
    ):
        errors.add(
            ErrorCode.DUPLICATE,
            "the institution already takes part in this project",
            "institutionId",
        )
    if role in LEAD_ROLES and await session.scalar(
        select(ProjectInstitution.id).where(
            ProjectInstitution.project_id == project.id, ProjectInstitution.role == role
        )
    ):
        errors.add(
            ProjectErrorCode.DUPLICATE_LEAD,
            f"the project already has a {role.value.replace('_', ' ')}",
            "role",
        )
    errors.raise_if_any()
    link = ProjectInstitution(project_id=project.id, institution_id=institution_id, role=role)
    session.add(link)
    project.updated_at = utcnow()
    await session.flush()
    return link


async def add_project_member(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    researcher_id: int,
    role: MemberRole,
    institution_id: int | None = None,
) -> ProjectMember:
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    if await session.get(Researcher, researcher_id) is None:
        raise NotFound("researcher", "researcherId")
    errors = Collector()
    if institution_id is not None and not await session.scalar(
        select(ProjectInstitution.id).where(
            ProjectInstitution.project_id == project.id,
            ProjectInstitution.institution_id == institution_id,
        )
    ):
        errors.add(
            ErrorCode.NOT_PARTICIPATING,
            "that institution does not take part in the project",
            "institutionId",
        )
    if await session.scalar(
        select(ProjectMember.id).where(
            ProjectMember.project_id == project.id,
            ProjectMember.researcher_id == researcher_id,
            ProjectMember.role == role,
        )
    ):
        errors.add(
            ErrorCode.DUPLICATE, "the researcher already has this role in the project", "role"
        )
    errors.raise_if_any()
    member = ProjectMember(
        project_id=project.id, researcher_id=researcher_id, role=role, institution_id=institution_id
    )
    session.add(member)
    project.updated_at = utcnow()
    await session.flush()
    return member


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


async def transition_phase(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    to_phase: ProjectPhase,
    *,
    note: str | None = None,
    document_ref: str | None = None,
    rd_signed_on: dt.date | None = None,
    override_reason: str | None = None,
    today: dt.date | None = None,
) -> Project:
    require_role(principal, *STAFF)
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound("project", "projectId")
    errors = Collector()
    clean_note = clean_text(errors, "note", note, max_len=5000)
    clean_ref = clean_text(errors, "documentRef", document_ref, max_len=500)
    if to_phase not in TRANSITIONS[project.phase]:
        allowed = ", ".join(sorted(p.value for p in TRANSITIONS[project.phase])) or "none"
        errors.add(
            ProjectErrorCode.INVALID_TRANSITION,
            f"a project cannot go from {project.phase.value} to {to_phase.value}"
            f" (allowed: {allowed})",
            "toPhase",
        )
    reason = admin_override(errors, principal, override_reason)
    today = today or utcnow().date()
    if to_phase == ProjectPhase.EX_POST_EVALUATED and project.phase in TRANSITIONS:
        completed = await completion_date(session, project)
        due = _add_years(completed, EX_POST_DELAY_YEARS) if completed else None
        if due is not None and today < due and reason is None:
            errors.add(
                ErrorCode.EX_POST_TOO_EARLY,
                f"the ex-post evaluation comes {EX_POST_DELAY_YEARS} years after completion"
                f" ({completed}), not before {due}; an admin may override with a reason",
                "toPhase",
            )
    if to_phase == ProjectPhase.IMPLEMENTATION and rd_signed_on is None:
        errors.add(
            ProjectErrorCode.RD_REQUIRED,
            "implementation starts with the signed Record of Discussions: give its date",
            "rdSignedOn",
        )
    if rd_signed_on is not None and rd_signed_on > today and reason is None:
        errors.add(
            ErrorCode.FUTURE_DATE,
            f"the Record of Discussions cannot be signed on {rd_signed_on}, after today"
            f" ({today}); an admin may override with a reason",
            "rdSignedOn",
        )
    starts = project.start_date
    if to_phase == ProjectPhase.COMPLETED and starts and starts > today and reason is None:
        errors.add(
            ProjectErrorCode.PERIOD_NOT_STARTED,
            f"a project cannot be completed before its period starts ({starts});"
            " an admin may override with a reason",
            "toPhase",
        )
    errors.raise_if_any()
    transition = PhaseTransition(
        project_id=project.id,
        from_phase=project.phase,
        to_phase=to_phase,
        account_id=principal.account_id,
        note=clean_note,
        document_ref=clean_ref,
        override_reason=reason,
    )
    session.add(transition)
    project.phase = to_phase
    if rd_signed_on is not None:
        project.rd_signed_on = rd_signed_on
    project.updated_at = utcnow()
    await session.flush()
    await record_phase_transition(session, principal, project, transition)
    emit(
        session,
        "project.phase_changed",
        project_id=project.id,
        payload={
            "from_phase": transition.from_phase.value if transition.from_phase else None,
            "to_phase": to_phase.value,
            "accountId": principal.account_id,
        },
    )
    return project
