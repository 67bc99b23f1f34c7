"""Provenance: the PROV graph, lineage, exports, derivations and fixity, as GraphQL."""

from schema.provenance.mutations import ProvenanceMutations
from schema.provenance.queries import ProvenanceQueries, VersionProvenanceFields

__all__ = ["ProvenanceMutations", "ProvenanceQueries", "VersionProvenanceFields"]
