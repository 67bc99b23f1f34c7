"""(being written)"""

from __future__ import annotations

import strawberry


@strawberry.type
class EvaluationQueries:
    pass


@strawberry.type
class EvaluationMutations:
    pass


@strawberry.type
class ProjectEvaluationFields:
    """Fields this module adds to the Project type (a mixin of schema.projects.Project)."""
