from schema.pdm.mutations import PdmMutations
from schema.pdm.queries import PdmQueries
from schema.pdm.types import ProjectPdmFields

__all__ = ["PdmMutations", "PdmQueries", "ProjectPdmFields"]
