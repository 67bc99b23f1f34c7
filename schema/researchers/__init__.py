"""Researchers and affiliations: types, queries, mutations."""

from schema.researchers.mutations import ResearcherMutations
from schema.researchers.queries import ResearcherQueries
from schema.researchers.types import (
    AddAffiliationInput,
    Affiliation,
    AffiliationPayload,
    CreateResearcherInput,
    Researcher,
    ResearcherFilter,
    ResearcherPayload,
)

__all__ = [
    "AddAffiliationInput",
    "Affiliation",
    "AffiliationPayload",
    "CreateResearcherInput",
    "Researcher",
    "ResearcherFilter",
    "ResearcherMutations",
    "ResearcherPayload",
    "ResearcherQueries",
]
