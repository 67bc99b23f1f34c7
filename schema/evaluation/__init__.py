from schema.evaluation.mutations import EvaluationMutations
from schema.evaluation.queries import EvaluationQueries
from schema.evaluation.types import DacRating, ProjectEvaluationFields

__all__ = ["DacRating", "EvaluationMutations", "EvaluationQueries", "ProjectEvaluationFields"]
