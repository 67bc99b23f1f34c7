"""(being written)"""

from __future__ import annotations

import strawberry


@strawberry.type
class PdmQueries:
    pass


@strawberry.type
class PdmMutations:
    pass


@strawberry.type
class ProjectPdmFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""
