"""Access requests, grants and data use agreements (issue 24, part A)."""

from schema.access_requests.mutations import AccessRequestMutations
from schema.access_requests.queries import AccessRequestQueries

__all__ = ["AccessRequestMutations", "AccessRequestQueries"]
