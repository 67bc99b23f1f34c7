"""The three queries of bench/graph_read.py as GraphQL documents, and how an answer is
checked against the hand-written endpoint's (normalised) and described."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

PAGE_SIZE = 50

NESTED_QUERY = (
    "{ themes { id name projects { id title institutions { role institution { id nameEn } } } } }"
)
NODE_QUERY = (
    "query($id: ID!) { node(id: $id) { ... on Project { id title acronym phase startDate "
    "endDate themes { id name } } } }"
)
PAGE_QUERY = (
    f"{{ projects(first: {PAGE_SIZE}) {{ totalCount edges {{ cursor node {{ id title phase }} }} "
    "pageInfo { hasNextPage endCursor } } }"
)


# ---- checking --------------------------------------------------------------------------


def normalise_nested(data: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Themes, theme-project pairs and project-institution links as sorted multisets."""
    themes = data["themes"]
    projects = [(t["id"], p["id"], p["title"]) for t in themes for p in t["projects"]]
    links = [
        (t["id"], p["id"], link["role"], link["institution"]["id"], link["institution"]["nameEn"])
        for t in themes
        for p in t["projects"]
        for link in p["institutions"]
    ]
    return {
        "themes": sorted((t["id"], t["name"]) for t in themes),
        "projects": sorted(projects),
        "links": sorted(links),
    }


def normalise_node(data: dict[str, Any]) -> Any:
    node = data["node"]
    if node is None:
        return None
    return {**node, "themes": sorted((t["id"], t["name"]) for t in node["themes"])}


def normalise_page(data: dict[str, Any]) -> Any:
    return data


def describe_nested(data: dict[str, Any]) -> str:
    counts = {name: len(rows) for name, rows in normalise_nested(data).items()}
    return (
        f"{count_objects(data['themes'])} objects ({counts['themes']} themes, "
        f"{counts['projects']} projects, {counts['links']} institution links each with its "
        "institution)"
    )


def describe_node(data: dict[str, Any]) -> str:
    return f"a project with {len(data['node']['themes'])} themes"


def describe_page(data: dict[str, Any]) -> str:
    page = data["projects"]
    return f"{len(page['edges'])} of {page['totalCount']} projects"


def count_objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0


@dataclass(frozen=True)
class Query:
    key: str
    title: str
    document: str
    variables: dict[str, Any]
    hand_path: str
    normalise: Callable[[dict[str, Any]], Any]
    describe: Callable[[dict[str, Any]], str]


def queries(project_id: int) -> list[Query]:
    project_gid = base64.b64encode(f"Project:{project_id}".encode()).decode()
    return [
        Query(
            "nested",
            "big nested query (themes > projects > institutions)",
            NESTED_QUERY,
            {},
            "/themes",
            normalise_nested,
            describe_nested,
        ),
        Query(
            "node",
            f"node(id) of Project {project_id}",
            NODE_QUERY,
            {"id": project_gid},
            f"/projects/{project_id}",
            normalise_node,
            describe_node,
        ),
        Query(
            "page",
            f"connection page, projects(first: {PAGE_SIZE})",
            PAGE_QUERY,
            {},
            f"/projects?first={PAGE_SIZE}",
            normalise_page,
            describe_page,
        ),
    ]


def data_of(path: str, response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if response.status_code != 200 or "errors" in body or "data" not in body:
        raise RuntimeError(f"{path}: HTTP {response.status_code} {response.text[:300]}")
    data: dict[str, Any] = body["data"]
    return data
