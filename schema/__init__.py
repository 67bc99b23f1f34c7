"""The GraphQL face: one strawberry schema composed from the domain modules."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from schema.access_requests import AccessRequestMutations, AccessRequestQueries
from schema.accounts import AccountQueries
from schema.analytics import AnalyticsQueries
from schema.audit import AuditQueries
from schema.compiled import CompilingExecutor
from schema.compiled.mapping import resolve_fields
from schema.cooperation import CooperationMutations, CooperationQueries
from schema.datasets import (
    ArchiveMutations,
    BatchUploadMutations,
    DatasetMutations,
    DatasetQueries,
    UploadMutations,
    UploadQueries,
    UploadSubscriptions,
)
from schema.errors import MaskUnexpected, should_mask
from schema.evaluation import EvaluationMutations, EvaluationQueries
from schema.institutions import InstitutionMutations, InstitutionQueries
from schema.nodes import NodeQueries
from schema.notifications import NotificationMutations, NotificationQueries
from schema.pdm import PdmMutations, PdmQueries
from schema.projects import ProjectMutations, ProjectQueries
from schema.protection import Protection, ProtectionQueries, tag_error
from schema.provenance import ProvenanceMutations, ProvenanceQueries
from schema.researchers import ResearcherMutations, ResearcherQueries
from schema.scalars import SCALARS
from schema.search import SearchQueries
from schema.themes import ThemeMutations, ThemeQueries

SDL_PATH = Path(__file__).with_name("schema.graphql")


@strawberry.type
class Query(
    InstitutionQueries,
    ResearcherQueries,
    ProjectQueries,
    ThemeQueries,
    AccountQueries,
    CooperationQueries,
    PdmQueries,
    EvaluationQueries,
    DatasetQueries,
    UploadQueries,
    ProvenanceQueries,
    AuditQueries,
    ProtectionQueries,
    AnalyticsQueries,
    SearchQueries,
    NotificationQueries,
    AccessRequestQueries,
    NodeQueries,
):
    pass


@strawberry.type
class Mutation(
    InstitutionMutations,
    ResearcherMutations,
    ProjectMutations,
    ThemeMutations,
    CooperationMutations,
    PdmMutations,
    EvaluationMutations,
    DatasetMutations,
    UploadMutations,
    ArchiveMutations,
    BatchUploadMutations,
    ProvenanceMutations,
    NotificationMutations,
    AccessRequestMutations,
):
    pass


@strawberry.type
class Subscription(UploadSubscriptions):
    pass


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log what went wrong on our side; a client's mistake is its answer, not our log.
        Errors of the GraphQL layer get a stable code."""
        for error in errors:
            tag_error(error)
        super().process_errors([e for e in errors if should_mask(e)], execution_context)


@cache
def build_schema() -> strawberry.Schema:
    """The schema, built once per process (strawberry binds field extensions to types)."""
    schema = Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
        execution_context_class=CompilingExecutor,  # root fields of queries compiled to SQL
        # limits come from each request's settings (Protection), so one schema serves all
        extensions=[
            Protection,
            lambda: MaskUnexpected(should_mask_error=should_mask),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
        ],
    )
    resolve_fields()  # the compiled path's map of every type, declared beside it
    return schema


def sdl() -> str:
    return build_schema().as_str() + "\n"
