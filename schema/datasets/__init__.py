"""Datasets, versions, files and uploads: the GraphQL face."""

from schema.datasets.archives import ArchiveMutations
from schema.datasets.batches import BatchUploadMutations
from schema.datasets.mutations import DatasetMutations
from schema.datasets.queries import DatasetQueries, UploadQueries
from schema.datasets.subscriptions import UploadSubscriptions
from schema.datasets.types import (
    Dataset,
    DatasetFile,
    DatasetVersion,
    ProjectDatasetFields,
    Upload,
)
from schema.datasets.uploads import UploadMutations

__all__ = [
    "ArchiveMutations",
    "BatchUploadMutations",
    "Dataset",
    "DatasetFile",
    "DatasetMutations",
    "DatasetQueries",
    "DatasetVersion",
    "ProjectDatasetFields",
    "Upload",
    "UploadMutations",
    "UploadQueries",
    "UploadSubscriptions",
]
