"""(being written)"""

from __future__ import annotations

import strawberry


@strawberry.type
class CooperationQueries:
    pass


@strawberry.type
class CooperationMutations:
    pass


@strawberry.type
class ProjectCooperationFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""
