"""Monitoring and evaluation: JCC meetings, monitoring reports, evaluations (OECD-DAC),
lessons learned and follow-up cooperation: the GraphQL types, the Project fields that reach
them, their filters, inputs and payloads.

Every record is visible exactly when its project is. JCC meetings and monitoring reports are
written by staff or the project's principal investigators; evaluations, lessons learned and
follow-up cooperation by staff only (admin or program manager: JICA evaluates)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.compiled.components import (
    evaluation_lessons,
    evaluation_ratings,
    lesson_evaluation,
    owned,
    owner_project,
)
from schema.compiled.mapping import compiled
from schema.connections import load_nodes, project_node
from schema.context import Info
from schema.errors import UserError, error_codes
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
from server.evaluation import errors as codes
from server.evaluation import queries, service
from server.models import cooperation as models
from server.models.enums import DacRating as DacRatingEnum
from server.models.enums import EvaluationKind as EvaluationKindEnum

if TYPE_CHECKING:
    from schema.projects import Project


EvaluationErrorCode = error_codes("EvaluationErrorCode", codes.EvaluationErrorCode)


@strawberry.type(description="An expected failure of a monitoring or evaluation mutation.")
class EvaluationError(UserError):
    code: EvaluationErrorCode  # type: ignore[valid-type]


LazyProject = Annotated["Project", strawberry.lazy("schema.projects")]

EvaluationKind = strawberry.enum(
    EvaluationKindEnum,
    name="EvaluationKind",
    description="ex-ante (planning), mid-term review (implementation), terminal (end of the"
    " cooperation), ex-post (two years or more after completion)",
)
DacRating = strawberry.enum(
    DacRatingEnum,
    name="DacRating",
    description="OECD-DAC criterion rating: A (highly satisfactory) to D (unsatisfactory)",
)


# ---- types ---------------------------------------------------------------------------


@compiled(project=owner_project)
@strawberry.type(description="A meeting of the project's Joint Coordinating Committee.")
class JccMeeting(relay.Node, FromRow):
    id: relay.NodeID[int]
    held_on: dt.date
    minutes: str | None
    decisions: str | None
    project_id: strawberry.Private[int]

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[JccMeeting | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.jcc_meetings_by_id), node_ids, cls.from_row
        )


REPORT_SUMMARY = TextField("monitoring_report", "summary", (Fallback("summary", "und"),))
EVALUATION_SUMMARY = TextField("evaluation", "summary", (Fallback("summary", "und"),))
FOLLOW_UP_DESCRIPTION = TextField("follow_up", "description", (Fallback("description", "und"),))
SUMMARIES = "The summary" + EACH_LANGUAGE


@compiled(text_builders(REPORT_SUMMARY, "summaries"), project=owner_project)
@strawberry.type(description="A progress report of the project for one period.")
class MonitoringReport(relay.Node, FromRow):
    id: relay.NodeID[int]
    period_start: dt.date
    period_end: dt.date
    submitted_on: dt.date
    summary: strawberry.Private[str | None]  # the original (the column)
    document_ref: str | None
    project_id: strawberry.Private[int]

    summary_in, summaries = text_fields(REPORT_SUMMARY, SUMMARIES)

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[MonitoringReport | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.monitoring_reports_by_id),
            node_ids,
            cls.from_row,
        )


@compiled()
@strawberry.type(description="Ratings on the six OECD-DAC evaluation criteria (null: not rated).")
class DacRatings:
    relevance: DacRating | None  # type: ignore[valid-type]
    coherence: DacRating | None  # type: ignore[valid-type]
    effectiveness: DacRating | None  # type: ignore[valid-type]
    impact: DacRating | None  # type: ignore[valid-type]
    efficiency: DacRating | None  # type: ignore[valid-type]
    sustainability: DacRating | None  # type: ignore[valid-type]


@compiled(
    text_builders(EVALUATION_SUMMARY, "summaries"),
    ratings=evaluation_ratings,
    project=owner_project,
    lessons_learned=evaluation_lessons,
)
@strawberry.type(description="An ex-ante, mid-term, terminal or ex-post evaluation.")
class Evaluation(relay.Node):
    id: relay.NodeID[int]
    kind: EvaluationKind  # type: ignore[valid-type]
    evaluated_on: dt.date
    summary: strawberry.Private[str | None]  # the original (the column)
    document_ref: str | None
    ratings: DacRatings
    created_at: dt.datetime
    project_id: strawberry.Private[int]

    summary_in, summaries = text_fields(EVALUATION_SUMMARY, SUMMARIES)

    @classmethod
    def from_row(cls, row: models.Evaluation) -> Evaluation:
        return cls(
            id=row.id,
            kind=row.kind,
            evaluated_on=row.evaluated_on,
            summary=row.summary,
            document_ref=row.document_ref,
            ratings=DacRatings(**{c: getattr(row, c) for c in service.DAC_CRITERIA}),
            created_at=row.created_at,
            project_id=row.project_id,
        )

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @strawberry.field(description="Lessons learned recorded from this evaluation")
    async def lessons_learned(self, info: Info) -> list[LessonLearned]:
        rows = await info.context.loaders.many(queries.lessons_by_evaluation).load(self.id)
        return [LessonLearned.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Evaluation | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.evaluations_by_id), node_ids, cls.from_row
        )


@compiled(project=owner_project, evaluation=lesson_evaluation)
@strawberry.type(description="A lesson learned from a project, possibly from one evaluation.")
class LessonLearned(relay.Node, FromRow):
    id: relay.NodeID[int]
    text: str
    created_at: dt.datetime
    project_id: strawberry.Private[int]
    evaluation_id: strawberry.Private[int | None]

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @strawberry.field
    async def evaluation(self, info: Info) -> Evaluation | None:
        if self.evaluation_id is None:
            return None
        row = await info.context.loaders.one_visible(queries.evaluations_by_id).load(
            self.evaluation_id
        )
        return Evaluation.from_row(row) if row is not None else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[LessonLearned | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.lessons_by_id), node_ids, cls.from_row
        )


@compiled(text_builders(FOLLOW_UP_DESCRIPTION, "descriptions"), project=owner_project)
@strawberry.type(description="Follow-up cooperation after the project's completion.")
class FollowUpCooperation(relay.Node, FromRow):
    id: relay.NodeID[int]
    start_date: dt.date
    end_date: dt.date | None
    description: strawberry.Private[str]  # the original (the column)
    project_id: strawberry.Private[int]

    description_in, descriptions = text_fields(
        FOLLOW_UP_DESCRIPTION, "The description" + EACH_LANGUAGE, required="description"
    )

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[FollowUpCooperation | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.follow_ups_by_id), node_ids, cls.from_row
        )


@compiled(
    partial=True,
    jcc_meetings=owned(models.JccMeeting, "JccMeeting", "held_on"),
    monitoring_reports=owned(models.MonitoringReport, "MonitoringReport", "period_start"),
    evaluations=owned(models.Evaluation, "Evaluation", "evaluated_on"),
    lessons_learned=owned(models.LessonLearned, "LessonLearned"),
    follow_ups=owned(models.FollowUpCooperation, "FollowUpCooperation", "start_date"),
)
@strawberry.type
class ProjectEvaluationFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""

    @strawberry.field(description="Joint Coordinating Committee meetings, oldest first")
    async def jcc_meetings(self, info: Info) -> list[JccMeeting]:
        rows = await info.context.loaders.many(queries.jcc_meetings_by_project).load(
            self.id  # type: ignore[attr-defined]
        )
        return [JccMeeting.from_row(r) for r in rows]

    @strawberry.field(description="Monitoring reports, by period")
    async def monitoring_reports(self, info: Info) -> list[MonitoringReport]:
        rows = await info.context.loaders.many(queries.monitoring_reports_by_project).load(
            self.id  # type: ignore[attr-defined]
        )
        return [MonitoringReport.from_row(r) for r in rows]

    @strawberry.field(description="Evaluations, oldest first")
    async def evaluations(self, info: Info) -> list[Evaluation]:
        rows = await info.context.loaders.many(queries.evaluations_by_project).load(
            self.id  # type: ignore[attr-defined]
        )
        return [Evaluation.from_row(r) for r in rows]

    @strawberry.field
    async def lessons_learned(self, info: Info) -> list[LessonLearned]:
        rows = await info.context.loaders.many(queries.lessons_by_project).load(
            self.id  # type: ignore[attr-defined]
        )
        return [LessonLearned.from_row(r) for r in rows]

    @strawberry.field(description="Follow-up cooperation after completion")
    async def follow_ups(self, info: Info) -> list[FollowUpCooperation]:
        rows = await info.context.loaders.many(queries.follow_ups_by_project).load(
            self.id  # type: ignore[attr-defined]
        )
        return [FollowUpCooperation.from_row(r) for r in rows]


# ---- filters and inputs --------------------------------------------------------------

THEME_DESCRIPTION = "Projects on this theme or any of its sub-themes"
COUNTRY_DESCRIPTION = "Projects with this partner country (ISO 3166-1 alpha-2)"


@strawberry.input
class JccMeetingFilter:
    project_id: strawberry.ID | None = None
    theme_id: strawberry.ID | None = strawberry.field(default=None, description=THEME_DESCRIPTION)
    country: str | None = strawberry.field(default=None, description=COUNTRY_DESCRIPTION)
    year: int | None = strawberry.field(default=None, description="Held during this year")


@strawberry.input
class MonitoringReportFilter:
    project_id: strawberry.ID | None = None
    theme_id: strawberry.ID | None = strawberry.field(default=None, description=THEME_DESCRIPTION)
    country: str | None = strawberry.field(default=None, description=COUNTRY_DESCRIPTION)
    year: int | None = strawberry.field(
        default=None, description="The reported period overlaps this year"
    )


@strawberry.input
class EvaluationFilter:
    project_id: strawberry.ID | None = None
    kind: EvaluationKind | None = None  # type: ignore[valid-type]
    theme_id: strawberry.ID | None = strawberry.field(default=None, description=THEME_DESCRIPTION)
    country: str | None = strawberry.field(default=None, description=COUNTRY_DESCRIPTION)
    year: int | None = strawberry.field(default=None, description="Evaluated during this year")


@strawberry.input
class LessonLearnedFilter:
    project_id: strawberry.ID | None = None
    evaluation_id: strawberry.ID | None = None
    theme_id: strawberry.ID | None = strawberry.field(default=None, description=THEME_DESCRIPTION)
    country: str | None = strawberry.field(default=None, description=COUNTRY_DESCRIPTION)
    text: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of the lesson's text (a plain match for now;"
        " full-text search comes later)",
    )


@strawberry.input
class FollowUpCooperationFilter:
    project_id: strawberry.ID | None = None
    theme_id: strawberry.ID | None = strawberry.field(default=None, description=THEME_DESCRIPTION)
    country: str | None = strawberry.field(default=None, description=COUNTRY_DESCRIPTION)
    year: int | None = strawberry.field(default=None, description="Active during this year")


@strawberry.input
class CreateJccMeetingInput:
    project_id: strawberry.ID
    held_on: dt.date = strawberry.field(description="Within the project period")
    minutes: str | None = None
    decisions: str | None = None


@strawberry.input
class CreateMonitoringReportInput:
    project_id: strawberry.ID
    period_start: dt.date
    period_end: dt.date
    submitted_on: dt.date = strawberry.field(description="On or after the end of the period")
    summary: str | None = None
    summaries: list[LanguageTextInput] | None = texts_input("The summary")
    document_ref: str | None = None


@strawberry.input
class DacRatingsInput:
    relevance: DacRating | None = None  # type: ignore[valid-type]
    coherence: DacRating | None = None  # type: ignore[valid-type]
    effectiveness: DacRating | None = None  # type: ignore[valid-type]
    impact: DacRating | None = None  # type: ignore[valid-type]
    efficiency: DacRating | None = None  # type: ignore[valid-type]
    sustainability: DacRating | None = None  # type: ignore[valid-type]


@strawberry.input
class CreateEvaluationInput:
    project_id: strawberry.ID
    kind: EvaluationKind  # type: ignore[valid-type]
    evaluated_on: dt.date = strawberry.field(description="Not in the future")
    ratings: DacRatingsInput | None = strawberry.field(
        default=None, description="Optional, except that an ex-post evaluation rates all six"
    )
    summary: str | None = None
    summaries: list[LanguageTextInput] | None = texts_input("The summary")
    document_ref: str | None = None


@strawberry.input
class AddLessonLearnedInput:
    project_id: strawberry.ID
    text: str
    evaluation_id: strawberry.ID | None = strawberry.field(
        default=None, description="The evaluation (of the same project) it comes from"
    )


@strawberry.input
class CreateFollowUpCooperationInput:
    project_id: strawberry.ID
    start_date: dt.date = strawberry.field(description="On or after the project's completion")
    description: str | None = strawberry.field(default=None, description="Or give `descriptions`")
    descriptions: list[LanguageTextInput] | None = texts_input("The description")
    end_date: dt.date | None = None


@strawberry.type
class JccMeetingPayload:
    jcc_meeting: JccMeeting | None = None
    errors: list[EvaluationError] = strawberry.field(default_factory=list)


@strawberry.type
class MonitoringReportPayload:
    monitoring_report: MonitoringReport | None = None
    errors: list[EvaluationError] = strawberry.field(default_factory=list)


@strawberry.type
class EvaluationPayload:
    evaluation: Evaluation | None = None
    errors: list[EvaluationError] = strawberry.field(default_factory=list)


@strawberry.type
class LessonLearnedPayload:
    lesson_learned: LessonLearned | None = None
    errors: list[EvaluationError] = strawberry.field(default_factory=list)


@strawberry.type
class FollowUpCooperationPayload:
    follow_up_cooperation: FollowUpCooperation | None = None
    errors: list[EvaluationError] = strawberry.field(default_factory=list)
