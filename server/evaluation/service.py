"""Monitoring and evaluation: JCC meetings, monitoring reports, evaluations rated on the
OECD-DAC criteria, lessons learned and follow-up cooperation.

Reads: a record is visible exactly when its project is (every query joins Project and
applies `project_visible`). Writes: JCC meetings and monitoring reports belong to the
project team (staff or the project's principal investigators); evaluations, lessons learned
and follow-up cooperation are JICA's own judgement and records, so staff only (admin or
program manager).

Phases each evaluation needs (the seed's implementation process):
- ex_ante: planning or later (the ex-ante evaluation is part of planning; `approved` is too
  early, later phases may still record it after the fact);
- mid_term_review: implementation or later, evaluated inside the project period;
- terminal: the review at the end of the cooperation. JICA carries it out in the last months of
  implementation, so it needs either a completed project (completed / follow_up /
  ex_post_evaluated) or a project in implementation evaluated within its last
  TERMINAL_WINDOW_MONTHS before the end date; otherwise PROJECT_NOT_COMPLETED;
- ex_post: a completed project (PROJECT_NOT_COMPLETED) evaluated at least EX_POST_DELAY_YEARS
  after the completion date (EX_POST_TOO_EARLY), rated on all six DAC criteria (MISSING_RATING).
Each kind at most once per project (DUPLICATE_EVALUATION).
"""

from __future__ import annotations

import calendar
import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access.auth import Principal
from server.access.permissions import STAFF, require_role
from server.core.db import utcnow
from server.core.errors import Collector, ErrorCode, NotFound
from server.core.validation import check_period, clean_text
from server.evaluation.errors import EvaluationErrorCode
from server.models import Project
from server.models.cooperation import (
    Evaluation,
    FollowUpCooperation,
    JccMeeting,
    LessonLearned,
    MonitoringReport,
)
from server.models.enums import DacRating, EvaluationKind, ProjectPhase
from server.projects.queries import completion_date
from server.projects.service import (
    EX_POST_DELAY_YEARS,
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

P = ProjectPhase
COMPLETED_PHASES = frozenset({P.COMPLETED, P.FOLLOW_UP, P.EX_POST_EVALUATED})
IMPLEMENTED_PHASES = frozenset({P.IMPLEMENTATION, *COMPLETED_PHASES})
PLANNED_PHASES = frozenset({P.PLANNING, *IMPLEMENTED_PHASES})
DAC_CRITERIA = (
    "relevance",
    "coherence",
    "effectiveness",
    "impact",
    "efficiency",
    "sustainability",
)
TERMINAL_WINDOW_MONTHS = 12
MINUTES_MAX = 50_000
DECISIONS_MAX = 20_000
SUMMARY_MAX = 20_000
LESSON_MAX = 10_000
DESCRIPTION_MAX = 10_000
DOCUMENT_REF_MAX = 500


# ---- operations ----------------------------------------------------------------------


def _today(today: dt.date | None) -> dt.date:
    return today or utcnow().date()


def _not_future(errors: Collector, value: dt.date, field: str, today: dt.date) -> None:
    if value > today:
        errors.add(ErrorCode.FUTURE_DATE, f"{field} is in the future", field)


def _phase_error(
    errors: Collector, project: Project, allowed: frozenset[P], code: EvaluationErrorCode
) -> bool:
    if project.phase in allowed:
        return False
    needed = (
        "completed"
        if code == EvaluationErrorCode.PROJECT_NOT_COMPLETED
        else min(allowed, key=list(P).index)
    )
    errors.add(
        code,
        f"the project is in {project.phase.value}; this needs a project in {needed} or later",
        "projectId",
    )
    return True


async def create_jcc_meeting(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    held_on: dt.date,
    minutes: str | None = None,
    decisions: str | None = None,
) -> JccMeeting:
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    errors = Collector()
    _phase_error(errors, project, PLANNED_PHASES, EvaluationErrorCode.PROJECT_NOT_STARTED)
    check_within_project(errors, project, held_on, None, start_field="heldOn")
    clean_minutes = clean_text(errors, "minutes", minutes, max_len=MINUTES_MAX)
    clean_decisions = clean_text(errors, "decisions", decisions, max_len=DECISIONS_MAX)
    errors.raise_if_any()
    meeting = JccMeeting(
        project_id=project.id, held_on=held_on, minutes=clean_minutes, decisions=clean_decisions
    )
    session.add(meeting)
    await session.flush()
    return meeting


async def create_monitoring_report(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    period_start: dt.date,
    period_end: dt.date,
    submitted_on: dt.date,
    summary: str | None = None,
    document_ref: str | None = None,
    *,
    summaries: list[TextValue] | None = None,
    today: dt.date | None = None,
) -> MonitoringReport:
    project = await visible_project(session, principal, project_id)
    await require_project_editor(session, principal, project)
    errors = Collector()
    _phase_error(errors, project, IMPLEMENTED_PHASES, EvaluationErrorCode.PROJECT_NOT_STARTED)
    check_within_project(
        errors,
        project,
        period_start,
        period_end,
        start_field="periodStart",
        end_field="periodEnd",
    )
    if submitted_on < period_end:
        errors.add(
            EvaluationErrorCode.SUBMITTED_BEFORE_PERIOD_END,
            "a report is submitted once its period has ended",
            "submittedOn",
        )
    _not_future(errors, submitted_on, "submittedOn", _today(today))
    clean_summary = _summary(errors, summary, summaries)
    clean_ref = clean_text(errors, "documentRef", document_ref, max_len=DOCUMENT_REF_MAX)
    errors.raise_if_any()
    report = MonitoringReport(
        project_id=project.id,
        period_start=period_start,
        period_end=period_end,
        submitted_on=submitted_on,
        summary=clean_summary.column if clean_summary is not None else None,
        document_ref=clean_ref,
    )
    session.add(report)
    await session.flush()
    await write_texts(session, "monitoring_report", report.id, [clean_summary])
    return report


def _summary(
    errors: Collector, summary: str | None, summaries: list[TextValue] | None
) -> PendingText | None:
    """A summary sent as one value (the original, in `und`) or in each language."""
    sent = sent_text("summary", "summaries", summary, summaries)
    return check_text_field(
        errors, sent, "summary", "summaries", max_len=SUMMARY_MAX, creating=True
    )


def _add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (or earlier), clamped to the end of a shorter month."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    return dt.date(year, month0 + 1, min(day.day, calendar.monthrange(year, month0 + 1)[1]))


async def _check_evaluation_timing(
    session: AsyncSession,
    errors: Collector,
    project: Project,
    kind: EvaluationKind,
    evaluated_on: dt.date,
) -> None:
    if kind == EvaluationKind.EX_ANTE:
        _phase_error(errors, project, PLANNED_PHASES, EvaluationErrorCode.PROJECT_NOT_STARTED)
    elif kind == EvaluationKind.MID_TERM_REVIEW:
        _phase_error(errors, project, IMPLEMENTED_PHASES, EvaluationErrorCode.PROJECT_NOT_STARTED)
        check_within_project(errors, project, evaluated_on, None, start_field="evaluatedOn")
    elif kind == EvaluationKind.TERMINAL:
        # not before the project starts; after the end is fine (a terminal review may run late)
        if project.start_date is not None and evaluated_on < project.start_date:
            errors.add(
                ErrorCode.OUTSIDE_PROJECT_PERIOD,
                "evaluatedOn is before the project starts",
                "evaluatedOn",
            )
        if project.phase in COMPLETED_PHASES:
            return
        window_opens = (
            _add_months(project.end_date, -TERMINAL_WINDOW_MONTHS)
            if project.end_date is not None
            else None
        )
        if (
            project.phase == P.IMPLEMENTATION
            and window_opens is not None
            and evaluated_on >= window_opens
        ):
            return
        errors.add(
            EvaluationErrorCode.PROJECT_NOT_COMPLETED,
            f"the project is in {project.phase.value}: a terminal evaluation needs a completed"
            f" project, or one in implementation evaluated within its last"
            f" {TERMINAL_WINDOW_MONTHS} months"
            + (f" (from {window_opens})" if window_opens is not None else ""),
            "projectId",
        )
    elif kind == EvaluationKind.EX_POST:
        if _phase_error(
            errors, project, COMPLETED_PHASES, EvaluationErrorCode.PROJECT_NOT_COMPLETED
        ):
            return
        completed = await completion_date(session, project)
        if completed is not None:
            due = _add_months(completed, 12 * EX_POST_DELAY_YEARS)
            if evaluated_on < due:
                errors.add(
                    ErrorCode.EX_POST_TOO_EARLY,
                    f"the ex-post evaluation comes {EX_POST_DELAY_YEARS} years after completion"
                    f" ({completed}), not before {due}",
                    "evaluatedOn",
                )


async def create_evaluation(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    kind: EvaluationKind,
    evaluated_on: dt.date,
    ratings: dict[str, DacRating | None] | None = None,
    summary: str | None = None,
    document_ref: str | None = None,
    *,
    summaries: list[TextValue] | None = None,
    today: dt.date | None = None,
) -> Evaluation:
    """Staff only: evaluations are JICA's (see the module docstring for the phase rules)."""
    require_role(principal, *STAFF)
    project = await visible_project(session, principal, project_id)
    errors = Collector()
    _not_future(errors, evaluated_on, "evaluatedOn", _today(today))
    await _check_evaluation_timing(session, errors, project, kind, evaluated_on)
    given = {c: (ratings or {}).get(c) for c in DAC_CRITERIA}
    if kind == EvaluationKind.EX_POST and (missing := [c for c, r in given.items() if r is None]):
        errors.add(
            EvaluationErrorCode.MISSING_RATING,
            f"an ex-post evaluation rates all six DAC criteria; missing: {', '.join(missing)}",
            "ratings",
        )
    if await session.scalar(
        select(Evaluation.id).where(Evaluation.project_id == project.id, Evaluation.kind == kind)
    ):
        errors.add(
            EvaluationErrorCode.DUPLICATE_EVALUATION,
            f"the project already has a {kind.value.replace('_', ' ')} evaluation",
            "kind",
        )
    clean_summary = _summary(errors, summary, summaries)
    clean_ref = clean_text(errors, "documentRef", document_ref, max_len=DOCUMENT_REF_MAX)
    errors.raise_if_any()
    evaluation = Evaluation(
        project_id=project.id,
        kind=kind,
        evaluated_on=evaluated_on,
        summary=clean_summary.column if clean_summary is not None else None,
        document_ref=clean_ref,
        **given,
    )
    session.add(evaluation)
    await session.flush()
    await write_texts(session, "evaluation", evaluation.id, [clean_summary])
    return evaluation


async def add_lesson_learned(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    text: str | None,
    evaluation_id: int | None = None,
) -> LessonLearned:
    """Staff only. A lesson may name the evaluation it came from (of the same project)."""
    require_role(principal, *STAFF)
    project = await visible_project(session, principal, project_id)
    errors = Collector()
    clean = clean_text(errors, "text", text, max_len=LESSON_MAX, required=True)
    if evaluation_id is not None:
        evaluation = await session.get(Evaluation, evaluation_id)
        if evaluation is None:
            raise NotFound("evaluation", "evaluationId")
        if evaluation.project_id != project.id:
            errors.add(
                EvaluationErrorCode.MISMATCHED_EVALUATION,
                "the evaluation belongs to another project",
                "evaluationId",
            )
    errors.raise_if_any()
    lesson = LessonLearned(project_id=project.id, evaluation_id=evaluation_id, text=clean)
    session.add(lesson)
    await session.flush()
    return lesson


async def create_follow_up(
    session: AsyncSession,
    principal: Principal,
    project_id: int,
    start_date: dt.date,
    end_date: dt.date | None,
    description: str | None,
    *,
    descriptions: list[TextValue] | None = None,
) -> FollowUpCooperation:
    """Staff only: follow-up cooperation for a completed project, from its completion on
    (its description one value, the original in `und`, or in each language)."""
    require_role(principal, *STAFF)
    project = await visible_project(session, principal, project_id)
    errors = Collector()
    clean = check_text_field(
        errors,
        sent_text("description", "descriptions", description, descriptions),
        "description",
        "descriptions",
        max_len=DESCRIPTION_MAX,
        required=True,
        creating=True,
    )
    if not _phase_error(
        errors, project, COMPLETED_PHASES, EvaluationErrorCode.PROJECT_NOT_COMPLETED
    ):
        completed = await completion_date(session, project)
        if completed is not None and start_date < completed:
            errors.add(
                EvaluationErrorCode.BEFORE_COMPLETION,
                f"follow-up cooperation starts after the project's completion ({completed})",
                "startDate",
            )
    check_period(errors, start_date, end_date)
    errors.raise_if_any()
    record = FollowUpCooperation(
        project_id=project.id,
        start_date=start_date,
        end_date=end_date,
        description=clean.column if clean is not None else None,
    )
    session.add(record)
    await session.flush()
    await write_texts(session, "follow_up", record.id, [clean])
    return record
