from schema.materials.mutations import MaterialMutations
from schema.materials.queries import MaterialQueries
from schema.materials.types import ProjectMaterialFields

__all__ = ["MaterialMutations", "MaterialQueries", "ProjectMaterialFields"]
