"""Publishing's GraphQL face: citations, and persistent identifiers of versions and
datasets."""

from schema.publishing.citations import VersionCitationFields
from schema.publishing.types import DatasetPidFields, PersistentIdentifier, VersionPidFields

__all__ = ["DatasetPidFields", "PersistentIdentifier", "VersionCitationFields", "VersionPidFields"]
