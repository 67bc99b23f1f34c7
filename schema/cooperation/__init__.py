from schema.cooperation.mutations import CooperationMutations
from schema.cooperation.queries import CooperationQueries
from schema.cooperation.types import ProjectCooperationFields

__all__ = ["CooperationMutations", "CooperationQueries", "ProjectCooperationFields"]
