"""Publishing's GraphQL face: persistent identifiers of versions and datasets."""

from schema.publishing.types import DatasetPidFields, PersistentIdentifier, VersionPidFields

__all__ = ["DatasetPidFields", "PersistentIdentifier", "VersionPidFields"]
