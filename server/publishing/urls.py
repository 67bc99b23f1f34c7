"""Where the public finds a record: the landing pages' paths (a DOI's target), one rule for
every format that links to them. `base` is the server's public URL (`public_base_url`, or
what a request shows)."""

from __future__ import annotations

from urllib.parse import quote


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


def file_path(dataset_id: int, number: int, path: str) -> str:
    """A public file's stable URL: it answers with a fresh signed download URL (303)."""
    return f"{version_path(dataset_id, number)}/files/{quote(path)}"


def catalog_path() -> str:
    """The DCAT-AP catalogue of every public record."""
    return "/catalog"
