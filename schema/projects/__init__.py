"""SATREPS joint research projects: types, queries, mutations."""

from schema.projects.mutations import ProjectMutations
from schema.projects.queries import ProjectQueries
from schema.projects.types import (
    AddProjectInstitutionInput,
    AddProjectMemberInput,
    CreateProjectInput,
    InstitutionRole,
    MemberRole,
    PhaseTransition,
    Project,
    ProjectFilter,
    ProjectInstitution,
    ProjectMember,
    ProjectPayload,
    ProjectPhase,
    TransitionProjectPhaseInput,
    UpdateProjectInput,
)

__all__ = [
    "AddProjectInstitutionInput",
    "AddProjectMemberInput",
    "CreateProjectInput",
    "InstitutionRole",
    "MemberRole",
    "PhaseTransition",
    "Project",
    "ProjectFilter",
    "ProjectInstitution",
    "ProjectMember",
    "ProjectMutations",
    "ProjectPayload",
    "ProjectPhase",
    "ProjectQueries",
    "TransitionProjectPhaseInput",
    "UpdateProjectInput",
]
