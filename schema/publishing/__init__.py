"""Publishing: the GraphQL face of citations."""

from schema.publishing.citations import VersionCitationFields

__all__ = ["VersionCitationFields"]
