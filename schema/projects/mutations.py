"""SATREPS joint research projects: the mutations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from schema.connections import decode_id
from schema.context import Info
from schema.errors import fields_named
from schema.inputs import given
from schema.payloads import payload
from schema.projects.types import (
    AddProjectInstitutionInput,
    AddProjectMemberInput,
    CreateProjectInput,
    Project,
    ProjectPayload,
    TransitionProjectPhaseInput,
    UpdateProjectInput,
)
from schema.texts import text_values
from server import models
from server.access.auth import Principal
from server.projects import service

PROJECT_FIELDS = ("title", "acronym", "summary", "start_date", "end_date", "partner_countries")
PROJECT_TEXTS = ("titles", "acronyms", "summaries")


def _values(input: CreateProjectInput | UpdateProjectInput) -> dict[str, Any]:
    """The fields sent, the language-tagged ones as the service takes them (on creation a
    null title or list is not sent)."""
    values = given(input, *PROJECT_FIELDS)
    for name, items in given(input, *PROJECT_TEXTS).items():
        values[name] = text_values(items)
    if isinstance(input, CreateProjectInput):
        unsent = ("title", *PROJECT_TEXTS)
        values = {k: v for k, v in values.items() if v is not None or k not in unsent}
    return values


def _theme_ids(ids: list[strawberry.ID]) -> list[int]:
    return [decode_id(gid, "Theme", "themeIds") for gid in ids]


async def project_payload(
    info: Info, op: Callable[[AsyncSession, Principal], Awaitable[models.Project]]
) -> ProjectPayload:
    return await payload(
        info, op, ProjectPayload, lambda row: ProjectPayload(project=Project.from_row(row))
    )


@strawberry.type
class ProjectMutations:
    @strawberry.mutation
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Project:
            values = _values(input)
            values["theme_ids"] = _theme_ids(input.theme_ids)
            return await service.create_project(session, principal, values)

        return await project_payload(info, op)

    @strawberry.mutation
    async def update_project(self, info: Info, input: UpdateProjectInput) -> ProjectPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Project:
            values = _values(input)
            if input.theme_ids is not strawberry.UNSET:
                values["theme_ids"] = _theme_ids(input.theme_ids or [])
            if values.get("partner_countries", 0) is None:
                values["partner_countries"] = []
            project_id = decode_id(input.id, "Project", "id")
            with fields_named(projectId="id"):
                return await service.update_project(session, principal, project_id, values)

        return await project_payload(info, op)

    @strawberry.mutation
    async def add_project_institution(
        self, info: Info, input: AddProjectInstitutionInput
    ) -> ProjectPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Project:
            project_id = decode_id(input.project_id, "Project", "projectId")
            await service.add_project_institution(
                session,
                principal,
                project_id,
                decode_id(input.institution_id, "Institution", "institutionId"),
                input.role,
            )
            return await session.get_one(models.Project, project_id)

        return await project_payload(info, op)

    @strawberry.mutation
    async def add_project_member(self, info: Info, input: AddProjectMemberInput) -> ProjectPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Project:
            project_id = decode_id(input.project_id, "Project", "projectId")
            institution_id = (
                decode_id(input.institution_id, "Institution", "institutionId")
                if input.institution_id
                else None
            )
            await service.add_project_member(
                session,
                principal,
                project_id,
                decode_id(input.researcher_id, "Researcher", "researcherId"),
                input.role,
                institution_id,
            )
            return await session.get_one(models.Project, project_id)

        return await project_payload(info, op)

    @strawberry.mutation
    async def transition_project_phase(
        self, info: Info, input: TransitionProjectPhaseInput
    ) -> ProjectPayload:
        async def op(session: AsyncSession, principal: Principal) -> models.Project:
            return await service.transition_phase(
                session,
                principal,
                decode_id(input.project_id, "Project", "projectId"),
                input.to_phase,
                note=input.note,
                document_ref=input.document_ref,
                rd_signed_on=input.rd_signed_on,
                override_reason=input.override_reason,
            )

        return await project_payload(info, op)
