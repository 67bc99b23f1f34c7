"""Where the public finds a record: the landing pages' paths (a DOI's target), one rule for
every format that links to them. `base` is the server's public URL (`public_base_url`, or
what a request shows)."""

from __future__ import annotations


def dataset_path(dataset_id: int) -> str:
    """The dataset's page: its latest public version (the concept DOI's target)."""
    return f"/datasets/{dataset_id}"


def version_path(dataset_id: int, number: int) -> str:
    """One version's page (the version DOI's target)."""
    return f"/datasets/{dataset_id}/versions/{number}"


def project_path(project_id: int) -> str:
    return f"/projects/{project_id}"


def absolute(base: str, path: str) -> str:
    return f"{base.rstrip('/')}{path}"
