"""The mutations of monitoring and evaluation; the rules live in
server/evaluation/service.py."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.evaluation.types import (
    AddLessonLearnedInput,
    CreateEvaluationInput,
    CreateFollowUpCooperationInput,
    CreateJccMeetingInput,
    CreateMonitoringReportInput,
    Evaluation,
    EvaluationPayload,
    FollowUpCooperation,
    FollowUpCooperationPayload,
    JccMeeting,
    JccMeetingPayload,
    LessonLearned,
    LessonLearnedPayload,
    MonitoringReport,
    MonitoringReportPayload,
)
from schema.payloads import payload
from schema.texts import text_values
from server.access.auth import Principal
from server.evaluation import service
from server.models import cooperation as models

InputWithProject = (
    CreateJccMeetingInput
    | CreateMonitoringReportInput
    | CreateEvaluationInput
    | AddLessonLearnedInput
    | CreateFollowUpCooperationInput
)


def _project_id(input: InputWithProject) -> int:
    return decode_id(input.project_id, "Project", "projectId")


def _jcc_meeting(row: models.JccMeeting) -> JccMeetingPayload:
    return JccMeetingPayload(jcc_meeting=JccMeeting.from_row(row))


def _monitoring_report(row: models.MonitoringReport) -> MonitoringReportPayload:
    return MonitoringReportPayload(monitoring_report=MonitoringReport.from_row(row))


def _evaluation(row: models.Evaluation) -> EvaluationPayload:
    return EvaluationPayload(evaluation=Evaluation.from_row(row))


def _lesson_learned(row: models.LessonLearned) -> LessonLearnedPayload:
    return LessonLearnedPayload(lesson_learned=LessonLearned.from_row(row))


def _follow_up_cooperation(row: models.FollowUpCooperation) -> FollowUpCooperationPayload:
    return FollowUpCooperationPayload(follow_up_cooperation=FollowUpCooperation.from_row(row))


@strawberry.type
class EvaluationMutations:
    @strawberry.mutation(description="Staff or the project's principal investigators")
    async def create_jcc_meeting(
        self, info: Info, input: CreateJccMeetingInput
    ) -> JccMeetingPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.JccMeeting:
            return await service.create_jcc_meeting(
                session,
                principal,
                _project_id(input),
                input.held_on,
                input.minutes,
                input.decisions,
            )

        return await payload(info, op, JccMeetingPayload, _jcc_meeting)

    @strawberry.mutation(description="Staff or the project's principal investigators")
    async def create_monitoring_report(
        self, info: Info, input: CreateMonitoringReportInput
    ) -> MonitoringReportPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.MonitoringReport:
            return await service.create_monitoring_report(
                session,
                principal,
                _project_id(input),
                input.period_start,
                input.period_end,
                input.submitted_on,
                input.summary,
                input.document_ref,
                summaries=text_values(input.summaries),
            )

        return await payload(info, op, MonitoringReportPayload, _monitoring_report)

    @strawberry.mutation(description="Staff only (admin or program manager: JICA evaluates)")
    async def create_evaluation(
        self, info: Info, input: CreateEvaluationInput
    ) -> EvaluationPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Evaluation:
            ratings = (
                {c: getattr(input.ratings, c) for c in service.DAC_CRITERIA}
                if input.ratings is not None
                else None
            )
            return await service.create_evaluation(
                session,
                principal,
                _project_id(input),
                input.kind,
                input.evaluated_on,
                ratings,
                input.summary,
                input.document_ref,
                summaries=text_values(input.summaries),
            )

        return await payload(info, op, EvaluationPayload, _evaluation)

    @strawberry.mutation(description="Staff only")
    async def add_lesson_learned(
        self, info: Info, input: AddLessonLearnedInput
    ) -> LessonLearnedPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.LessonLearned:
            evaluation_id = (
                decode_id(input.evaluation_id, "Evaluation", "evaluationId")
                if input.evaluation_id is not None
                else None
            )
            return await service.add_lesson_learned(
                session, principal, _project_id(input), input.text, evaluation_id
            )

        return await payload(info, op, LessonLearnedPayload, _lesson_learned)

    @strawberry.mutation(description="Staff only")
    async def create_follow_up_cooperation(
        self, info: Info, input: CreateFollowUpCooperationInput
    ) -> FollowUpCooperationPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.FollowUpCooperation:
            return await service.create_follow_up(
                session,
                principal,
                _project_id(input),
                input.start_date,
                input.end_date,
                input.description,
                descriptions=text_values(input.descriptions),
            )

        return await payload(info, op, FollowUpCooperationPayload, _follow_up_cooperation)
