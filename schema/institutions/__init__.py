"""Countries and institutions: types, queries, mutations."""

from schema.inputs import given
from schema.institutions.mutations import InstitutionMutations
from schema.institutions.queries import InstitutionQueries
from schema.institutions.types import (
    Country,
    CreateInstitutionInput,
    Institution,
    InstitutionFilter,
    InstitutionKind,
    InstitutionPayload,
    UpdateInstitutionInput,
)

__all__ = [
    "Country",
    "CreateInstitutionInput",
    "Institution",
    "InstitutionFilter",
    "InstitutionKind",
    "InstitutionMutations",
    "InstitutionPayload",
    "InstitutionQueries",
    "UpdateInstitutionInput",
    "given",
]
