"""SATREPS joint research projects: the types, enums, inputs and payload."""

from __future__ import annotations

import datetime as dt

import strawberry
from strawberry import relay

from schema.accounts import AccountRole
from schema.compiled.compiler import (
    institution_of,
    member_institution,
    project_countries,
    project_institutions,
    project_members,
    project_themes,
    researcher_of,
)
from schema.compiled.mapping import compiled
from schema.connections import load_nodes
from schema.context import Info
from schema.cooperation import ProjectCooperationFields
from schema.datasets import ProjectDatasetFields
from schema.errors import UserError, error_codes
from schema.evaluation import ProjectEvaluationFields
from schema.institutions.types import Country, Institution
from schema.loaders import present
from schema.pdm import ProjectPdmFields
from schema.researchers.types import Researcher
from schema.rows import FromRow
from schema.texts import (
    Fallback,
    LanguageTextInput,
    TextField,
    text_builders,
    text_fields,
)
from schema.themes.types import Theme
from server.models.enums import InstitutionRole as InstitutionRoleEnum
from server.models.enums import MemberRole as MemberRoleEnum
from server.models.enums import ProjectPhase as ProjectPhaseEnum
from server.projects import errors as codes
from server.projects import queries as projects_reads
from server.projects import service

ProjectErrorCode = error_codes("ProjectErrorCode", codes.ProjectErrorCode)


@strawberry.type(description="An expected failure of a project mutation.")
class ProjectError(UserError):
    code: ProjectErrorCode  # type: ignore[valid-type]


ProjectPhase = strawberry.enum(
    ProjectPhaseEnum,
    name="ProjectPhase",
    description="identification -> requested -> approved -> planning -> implementation"
    " -> completed -> follow_up -> ex_post_evaluated; or rejected / withdrawn",
)
InstitutionRole = strawberry.enum(InstitutionRoleEnum, name="InstitutionRole")
MemberRole = strawberry.enum(MemberRoleEnum, name="MemberRole")


@compiled(institution=institution_of("institution_id"))
@strawberry.type
class ProjectInstitution:
    role: InstitutionRole  # type: ignore[valid-type]
    institution: Institution


@compiled(researcher=researcher_of, institution=member_institution)
@strawberry.type
class ProjectMember:
    role: MemberRole  # type: ignore[valid-type]
    researcher: Researcher
    institution_id: strawberry.Private[int | None]

    @strawberry.field(description="The institution the member works for in this project")
    async def institution(self, info: Info) -> Institution | None:
        if self.institution_id is None:
            return None
        row = await info.context.loaders.institution_by_id.load(self.institution_id)
        return Institution.from_row(present(row))


@strawberry.type(description="The account that made a change.")
class ActingAccount:
    username: str
    role: AccountRole  # type: ignore[valid-type]


@strawberry.type
class PhaseTransition:
    from_phase: ProjectPhase | None  # type: ignore[valid-type]
    to_phase: ProjectPhase  # type: ignore[valid-type]
    at: dt.datetime
    note: str | None
    document_ref: str | None
    override_reason: str | None
    account_id: strawberry.Private[int | None] = None

    @strawberry.field(
        description="The account that made the transition (signed-in callers; null for the"
        " public and for transitions recorded without an account)"
    )
    async def account(self, info: Info) -> ActingAccount | None:
        if self.account_id is None or not info.context.principal.is_authenticated:
            return None
        row = await info.context.loaders.one(projects_reads.accounts_by_id).load(self.account_id)
        return ActingAccount(username=row.username, role=row.role) if row is not None else None

    @strawberry.field(
        description="The researcher linked to the account that made the transition, if any"
    )
    async def researcher(self, info: Info) -> Researcher | None:
        if self.account_id is None:
            return None
        row = await info.context.loaders.one(projects_reads.accounts_by_id).load(self.account_id)
        if row is None or row.researcher_id is None:
            return None
        person = await info.context.loaders.researcher_by_id.load(row.researcher_id)
        return Researcher.from_row(person) if person is not None else None


TITLE = TextField("project", "title", (Fallback("title", "und"),))
ACRONYM = TextField("project", "acronym", (Fallback("acronym", "und"),))
SUMMARY = TextField("project", "summary", (Fallback("summary", "und"),))
TEXTS_NOTE = (
    " in each language it is written in (the first is the original: `title` without `lang`"
    " reads it as before)"
)


@compiled(
    text_builders(TITLE, "titles"),
    text_builders(ACRONYM, "acronyms"),
    text_builders(SUMMARY, "summaries"),
    python=("phase_history", "next_phases"),
    themes=project_themes,
    partner_countries=project_countries,
    institutions=project_institutions,
    members=project_members,
)
@strawberry.type(description="A SATREPS joint research project between Japan and partners.")
class Project(
    ProjectCooperationFields,
    ProjectPdmFields,
    ProjectEvaluationFields,
    ProjectDatasetFields,
    relay.Node,
    FromRow,
):
    id: relay.NodeID[int]
    title: strawberry.Private[str]  # the original value of each text (its column)
    acronym: strawberry.Private[str | None]
    summary: strawberry.Private[str | None]
    start_date: dt.date | None
    end_date: dt.date | None
    phase: ProjectPhase  # type: ignore[valid-type]
    rd_signed_on: dt.date | None = strawberry.field(
        description="Date the Record of Discussions was signed"
    )
    created_at: dt.datetime
    updated_at: dt.datetime

    title_in, titles = text_fields(TITLE, "The title" + TEXTS_NOTE, required="title")
    acronym_in, acronyms = text_fields(ACRONYM, "The acronym" + TEXTS_NOTE)
    summary_in, summaries = text_fields(SUMMARY, "The summary" + TEXTS_NOTE)

    @strawberry.field
    async def themes(self, info: Info) -> list[Theme]:
        rows = await info.context.loaders.themes_by_project.load(self.id)
        return [Theme.from_row(r) for r in rows]

    @strawberry.field
    async def partner_countries(self, info: Info) -> list[Country]:
        rows = await info.context.loaders.countries_by_project.load(self.id)
        return [Country.from_row(r) for r in rows]

    @strawberry.field
    async def institutions(self, info: Info) -> list[ProjectInstitution]:
        rows = await info.context.loaders.institutions_by_project.load(self.id)
        return [
            ProjectInstitution(role=link.role, institution=Institution.from_row(inst))
            for link, inst in rows
        ]

    @strawberry.field
    async def members(self, info: Info) -> list[ProjectMember]:
        rows = await info.context.loaders.members_by_project.load(self.id)
        return [
            ProjectMember(
                role=m.role, researcher=Researcher.from_row(r), institution_id=m.institution_id
            )
            for m, r in rows
        ]

    @strawberry.field(description="Every phase change, oldest first")
    async def phase_history(self, info: Info) -> list[PhaseTransition]:
        rows = await info.context.loaders.transitions_by_project.load(self.id)
        return [
            PhaseTransition(
                from_phase=t.from_phase,
                to_phase=t.to_phase,
                at=t.at,
                note=t.note,
                document_ref=t.document_ref,
                override_reason=t.override_reason,
                account_id=t.account_id,
            )
            for t in rows
        ]

    @strawberry.field(description="The phases this project may move to next")
    def next_phases(self) -> list[ProjectPhase]:  # type: ignore[valid-type]
        return sorted(
            service.TRANSITIONS[ProjectPhaseEnum(self.phase)], key=list(ProjectPhaseEnum).index
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: list[str], required: bool = False
    ) -> list[Project | None]:
        return await load_nodes(info.context.loaders.project_by_id, node_ids, cls.from_row)


@strawberry.input
class ProjectFilter:
    theme_id: strawberry.ID | None = strawberry.field(
        default=None, description="This theme or any of its sub-themes"
    )
    country: str | None = strawberry.field(default=None, description="A partner country")
    phase: ProjectPhase | None = None  # type: ignore[valid-type]
    institution_id: strawberry.ID | None = None
    year: int | None = strawberry.field(default=None, description="Active during this year")


TEXTS_INPUT = (
    ": one value per language, the first not marked `translated` is the original (and what"
    " the single field reads)"
)


@strawberry.input
class CreateProjectInput:
    title: str | None = strawberry.field(
        default=None, description="The title in one language (or give `titles`)"
    )
    titles: list[LanguageTextInput] | None = strawberry.field(
        default=None, description="The title" + TEXTS_INPUT
    )
    acronym: str | None = None
    acronyms: list[LanguageTextInput] | None = None
    summary: str | None = None
    summaries: list[LanguageTextInput] | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    theme_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    partner_countries: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class UpdateProjectInput:
    id: strawberry.ID
    title: str | None = strawberry.UNSET
    titles: list[LanguageTextInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The title" + TEXTS_INPUT + "; replaces them all"
    )
    acronym: str | None = strawberry.UNSET
    acronyms: list[LanguageTextInput] | None = strawberry.UNSET
    summary: str | None = strawberry.UNSET
    summaries: list[LanguageTextInput] | None = strawberry.UNSET
    start_date: dt.date | None = strawberry.UNSET
    end_date: dt.date | None = strawberry.UNSET
    theme_ids: list[strawberry.ID] | None = strawberry.UNSET
    partner_countries: list[str] | None = strawberry.UNSET


@strawberry.input
class AddProjectInstitutionInput:
    project_id: strawberry.ID
    institution_id: strawberry.ID
    role: InstitutionRole  # type: ignore[valid-type]


@strawberry.input
class AddProjectMemberInput:
    project_id: strawberry.ID
    researcher_id: strawberry.ID
    role: MemberRole  # type: ignore[valid-type]
    institution_id: strawberry.ID | None = None


@strawberry.input
class TransitionProjectPhaseInput:
    project_id: strawberry.ID
    to_phase: ProjectPhase  # type: ignore[valid-type]
    note: str | None = None
    document_ref: str | None = strawberry.field(
        default=None, description="Reference of the document behind the decision"
    )
    rd_signed_on: dt.date | None = strawberry.field(
        default=None, description="Required when moving to implementation"
    )
    override_reason: str | None = strawberry.field(
        default=None,
        description="Admins only: why a lifecycle rule is overridden (e.g. an early ex-post"
        " evaluation); recorded with the transition",
    )


@strawberry.type
class ProjectPayload:
    project: Project | None = None
    errors: list[ProjectError] = strawberry.field(default_factory=list)
