"""Technical cooperation components (expert dispatch, training, equipment provision): the
GraphQL types, the Project fields that reach them, their filters, inputs and payloads."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from schema.compiled.compiler import country_of, institution_of, researcher_of
from schema.compiled.components import (
    course_participants,
    decimal,
    dispatch_counterparts,
    dispatch_expert,
    equipment_next_statuses,
    owned,
    owner_project,
    theme_of,
)
from schema.compiled.mapping import compiled
from schema.connections import load_nodes, project_node
from schema.context import Info
from schema.errors import UserError, error_codes
from schema.institutions import Country, Institution
from schema.loaders import present
from schema.researchers import Researcher
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
from schema.themes import Theme
from server import models
from server.cooperation import errors as codes
from server.cooperation import queries, service
from server.models.enums import CourseType as CourseTypeEnum
from server.models.enums import EquipmentStatus as EquipmentStatusEnum

if TYPE_CHECKING:
    from schema.projects import Project


CooperationErrorCode = error_codes("CooperationErrorCode", codes.CooperationErrorCode)


@strawberry.type(description="An expected failure of a dispatch, training or equipment mutation.")
class CooperationError(UserError):
    code: CooperationErrorCode  # type: ignore[valid-type]


CourseType = strawberry.enum(
    CourseTypeEnum,
    name="CourseType",
    description="Knowledge Co-Creation Program courses in Japan (group and region focus,"
    " country focus, young leaders), third-country training or in-country training",
)
EquipmentStatus = strawberry.enum(
    EquipmentStatusEnum,
    name="EquipmentStatus",
    description="ordered -> delivered -> in_use <-> out_of_service; never back to ordered",
)
LazyProject = Annotated["Project", strawberry.lazy("schema.projects")]


# ---- types ---------------------------------------------------------------------------


@compiled(
    project=owner_project,
    expert=dispatch_expert,
    origin_country=country_of("origin_country"),
    host_institution=institution_of("host_institution_id"),
    theme=theme_of,
    counterparts=dispatch_counterparts,
)
@strawberry.type(description="A Japanese (or third-country) expert sent to a partner country.")
class ExpertDispatch(relay.Node):
    id: relay.NodeID[int]
    start_date: dt.date
    end_date: dt.date | None
    purpose: str | None
    created_at: dt.datetime
    project_id: strawberry.Private[int]
    expert_id: strawberry.Private[int]
    origin_code: strawberry.Private[str]
    host_institution_id: strawberry.Private[int]
    theme_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: models.ExpertDispatch) -> ExpertDispatch:
        return cls(
            id=row.id,
            start_date=row.start_date,
            end_date=row.end_date,
            purpose=row.purpose,
            created_at=row.created_at,
            project_id=row.project_id,
            expert_id=row.expert_id,
            origin_code=row.origin_country,
            host_institution_id=row.host_institution_id,
            theme_id=row.theme_id,
        )

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @strawberry.field
    async def expert(self, info: Info) -> Researcher:
        return Researcher.from_row(
            present(await info.context.loaders.researcher_by_id.load(self.expert_id))
        )

    @strawberry.field(description="Japan or a third country; never a partner country")
    async def origin_country(self, info: Info) -> Country:
        return Country.from_row(
            present(await info.context.loaders.country_by_code.load(self.origin_code))
        )

    @strawberry.field(description="An institution in one of the project's partner countries")
    async def host_institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.host_institution_id)
        return Institution.from_row(present(row))

    @strawberry.field
    async def theme(self, info: Info) -> Theme | None:
        if self.theme_id is None:
            return None
        return Theme.from_row(present(await info.context.loaders.theme_by_id.load(self.theme_id)))

    @strawberry.field(description="Partner researchers the expert works with")
    async def counterparts(self, info: Info) -> list[Researcher]:
        rows = await info.context.loaders.many(queries.counterparts_by_dispatch).load(self.id)
        return [Researcher.from_row(r) for r in rows]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[ExpertDispatch | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.dispatches_by_id), node_ids, cls.from_row
        )


@compiled(researcher=researcher_of, institution=institution_of("institution_id"))
@strawberry.type
class TrainingParticipant:
    researcher: Researcher
    institution_id: strawberry.Private[int]

    @strawberry.field(description="The partner institution the trainee comes from")
    async def institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.institution_id)
        return Institution.from_row(present(row))


COURSE_TITLE = TextField("course", "title", (Fallback("title", "und"),))
OUTCOME_NOTES = TextField("course", "outcome_notes", (Fallback("outcome_notes", "und"),))


@compiled(
    text_builders(COURSE_TITLE, "titles"),
    text_builders(OUTCOME_NOTES, "outcome_notes_texts"),
    project=owner_project,
    host_country=country_of("host_country"),
    host_institution=institution_of("host_institution_id"),
    participants=course_participants,
)
@strawberry.type(description="A technical training course for researchers of partner institutions.")
class TrainingCourse(relay.Node):
    id: relay.NodeID[int]
    title: strawberry.Private[str]  # the originals (the columns)
    course_type: CourseType  # type: ignore[valid-type]
    start_date: dt.date
    end_date: dt.date | None
    outcome_notes: strawberry.Private[str | None]
    created_at: dt.datetime
    project_id: strawberry.Private[int]
    host_code: strawberry.Private[str]
    host_institution_id: strawberry.Private[int | None]

    title_in, titles = text_fields(COURSE_TITLE, "The title" + EACH_LANGUAGE, required="title")
    outcome_notes_in, outcome_notes_texts = text_fields(
        OUTCOME_NOTES, "The outcome notes" + EACH_LANGUAGE
    )

    @classmethod
    def from_row(cls, row: models.TrainingCourse) -> TrainingCourse:
        return cls(
            id=row.id,
            title=row.title,
            course_type=row.course_type,
            start_date=row.start_date,
            end_date=row.end_date,
            outcome_notes=row.outcome_notes,
            created_at=row.created_at,
            project_id=row.project_id,
            host_code=row.host_country,
            host_institution_id=row.host_institution_id,
        )

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @strawberry.field
    async def host_country(self, info: Info) -> Country:
        return Country.from_row(
            present(await info.context.loaders.country_by_code.load(self.host_code))
        )

    @strawberry.field
    async def host_institution(self, info: Info) -> Institution | None:
        if self.host_institution_id is None:
            return None
        row = await info.context.loaders.institution_by_id.load(self.host_institution_id)
        return Institution.from_row(present(row))

    @strawberry.field
    async def participants(self, info: Info) -> list[TrainingParticipant]:
        rows = await info.context.loaders.many(queries.participants_by_course).load(self.id)
        return [
            TrainingParticipant(researcher=Researcher.from_row(r), institution_id=p.institution_id)
            for p, r in rows
        ]

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[TrainingCourse | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.courses_by_id), node_ids, cls.from_row
        )


@compiled(
    value=decimal("value", 2),
    project=owner_project,
    recipient_institution=institution_of("recipient_institution_id"),
    next_statuses=equipment_next_statuses,
)
@strawberry.type(
    description="Equipment provided to a partner (or other participating) institution."
)
class EquipmentItem(relay.Node, FromRow):
    id: relay.NodeID[int]
    item: str
    category: str | None
    quantity: int
    value: Decimal | None = strawberry.field(description="Value in `currency`, 2 decimals")
    currency: str | None = strawberry.field(description="ISO 4217 code, e.g. JPY")
    delivery_date: dt.date | None
    status: EquipmentStatus  # type: ignore[valid-type]
    created_at: dt.datetime
    project_id: strawberry.Private[int]
    recipient_institution_id: strawberry.Private[int]

    @strawberry.field
    async def project(self, info: Info) -> LazyProject:
        return await project_node(info, self.project_id)

    @strawberry.field
    async def recipient_institution(self, info: Info) -> Institution:
        row = await info.context.loaders.institution_by_id.load(self.recipient_institution_id)
        return Institution.from_row(present(row))

    @strawberry.field(description="The status moves allowed from the current one")
    def next_statuses(self) -> list[EquipmentStatus]:  # type: ignore[valid-type]
        return service.next_statuses(EquipmentStatusEnum(self.status))

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[EquipmentItem | None]:
        return await load_nodes(
            info.context.loaders.one_visible(queries.equipment_by_id), node_ids, cls.from_row
        )


@compiled(
    partial=True,
    expert_dispatches=owned(models.ExpertDispatch, "ExpertDispatch", "start_date"),
    training_courses=owned(models.TrainingCourse, "TrainingCourse", "start_date"),
    equipment=owned(models.EquipmentItem, "EquipmentItem"),
)
@strawberry.type
class ProjectCooperationFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""

    @strawberry.field(description="Experts dispatched, by start date")
    async def expert_dispatches(self, info: Info) -> list[ExpertDispatch]:
        loader = info.context.loaders.many_visible(queries.dispatches_by_project)
        rows = await loader.load(self.id)  # type: ignore[attr-defined]
        return [ExpertDispatch.from_row(r) for r in rows]

    @strawberry.field(description="Training courses, by start date")
    async def training_courses(self, info: Info) -> list[TrainingCourse]:
        loader = info.context.loaders.many_visible(queries.courses_by_project)
        rows = await loader.load(self.id)  # type: ignore[attr-defined]
        return [TrainingCourse.from_row(r) for r in rows]

    @strawberry.field(description="Equipment provided, in the order recorded")
    async def equipment(self, info: Info) -> list[EquipmentItem]:
        loader = info.context.loaders.many_visible(queries.equipment_by_project)
        rows = await loader.load(self.id)  # type: ignore[attr-defined]
        return [EquipmentItem.from_row(r) for r in rows]


# ---- inputs and payloads -------------------------------------------------------------


@strawberry.input
class ExpertDispatchFilter:
    project_id: strawberry.ID | None = None
    host_country: str | None = strawberry.field(
        default=None, description="Country of the host institution"
    )
    theme_id: strawberry.ID | None = strawberry.field(
        default=None, description="This theme or any of its sub-themes"
    )
    year: int | None = strawberry.field(default=None, description="Active during this year")
    origin_country: str | None = None


@strawberry.input
class TrainingCourseFilter:
    project_id: strawberry.ID | None = None
    host_country: str | None = None
    course_type: CourseType | None = None  # type: ignore[valid-type]
    year: int | None = strawberry.field(default=None, description="Held during this year")


@strawberry.input
class EquipmentItemFilter:
    project_id: strawberry.ID | None = None
    recipient_country: str | None = strawberry.field(
        default=None, description="Country of the recipient institution"
    )
    status: EquipmentStatus | None = None  # type: ignore[valid-type]
    year: int | None = strawberry.field(default=None, description="Delivered during this year")


@strawberry.input
class CreateExpertDispatchInput:
    project_id: strawberry.ID
    expert_id: strawberry.ID = strawberry.field(description="The researcher sent")
    host_institution_id: strawberry.ID
    start_date: dt.date
    origin_country: str = strawberry.field(
        default="JP", description="ISO 3166-1 alpha-2: Japan or a third country"
    )
    end_date: dt.date | None = None
    theme_id: strawberry.ID | None = None
    purpose: str | None = None
    counterpart_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Researchers of partner-country institutions"
    )


@strawberry.input
class CreateTrainingCourseInput:
    project_id: strawberry.ID
    title: str | None = strawberry.field(default=None, description="Or give `titles`")
    titles: list[LanguageTextInput] | None = texts_input("The title")
    course_type: CourseType  # type: ignore[valid-type]
    host_country: str = strawberry.field(description="ISO 3166-1 alpha-2 code")
    start_date: dt.date
    end_date: dt.date | None = None
    host_institution_id: strawberry.ID | None = None
    outcome_notes: str | None = None
    outcome_notes_texts: list[LanguageTextInput] | None = texts_input("The outcome notes")


@strawberry.input
class UpdateTrainingCourseInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    titles: list[LanguageTextInput] | None = texts_input("The title", update=True)
    course_type: CourseType | None = strawberry.UNSET  # type: ignore[valid-type]
    host_country: str | None = strawberry.UNSET
    host_institution_id: strawberry.ID | None = strawberry.UNSET
    start_date: dt.date | None = strawberry.UNSET
    end_date: dt.date | None = strawberry.UNSET
    outcome_notes: str | None = strawberry.UNSET
    outcome_notes_texts: list[LanguageTextInput] | None = texts_input(
        "The outcome notes", update=True
    )


@strawberry.input
class AddTrainingParticipantInput:
    course_id: strawberry.ID
    researcher_id: strawberry.ID
    institution_id: strawberry.ID = strawberry.field(
        description="A partner institution of the project the researcher is affiliated with"
    )


@strawberry.input
class CreateEquipmentItemInput:
    project_id: strawberry.ID
    item: str
    recipient_institution_id: strawberry.ID
    category: str | None = None
    quantity: int = 1
    value: Decimal | None = None
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code; required with a value"
    )
    delivery_date: dt.date | None = strawberry.field(
        default=None, description="Required unless the status is ORDERED"
    )
    status: EquipmentStatus = EquipmentStatusEnum.ORDERED  # type: ignore[valid-type]


@strawberry.input
class UpdateEquipmentStatusInput:
    id: strawberry.ID
    status: EquipmentStatus  # type: ignore[valid-type]
    delivery_date: dt.date | None = None


@strawberry.type
class ExpertDispatchPayload:
    expert_dispatch: ExpertDispatch | None = None
    errors: list[CooperationError] = strawberry.field(default_factory=list)


@strawberry.type
class TrainingCoursePayload:
    training_course: TrainingCourse | None = None
    errors: list[CooperationError] = strawberry.field(default_factory=list)


@strawberry.type
class EquipmentItemPayload:
    equipment_item: EquipmentItem | None = None
    errors: list[CooperationError] = strawberry.field(default_factory=list)
