"""What the README's provenance commands need and its earlier commands do not make: a
dataset whose first version (DatasetVersion 1 on a fresh demo) holds a processed file. Run
by tests/test_readme_commands.py inside the document's session, against its server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

URL = "http://127.0.0.1:8000/graphql"
PROJECT = """{ projects(first: 1, filter: {phase: IMPLEMENTATION}) {
  nodes { id institutions { institution { id } } } } }"""
CREATE = """mutation($input: CreateDatasetInput!) { createDataset(input: $input) {
  dataset { id draft { id } } errors { field code message } } }"""


def graphql(token: str, query: str, **variables: object) -> dict:
    response = httpx.post(
        URL,
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        sys.exit(f"setup: {body}")
    return body["data"]


def main() -> None:
    satreps = str(Path(sys.executable).with_name("satreps"))
    created = subprocess.run(
        [satreps, "token", "create", "--role", "admin", "--user", "docs-setup"],
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip()
    project = graphql(token, PROJECT)["projects"]["nodes"][0]
    values = {
        "projectId": project["id"],
        "ownerInstitutionId": project["institutions"][0]["institution"]["id"],
        "title": "Rain gauge readings",
        "licence": "CC-BY-4.0",
        "accessLevel": "PUBLIC",
    }
    payload = graphql(token, CREATE, input=values)["createDataset"]
    if payload["errors"]:
        sys.exit(f"setup: {payload['errors']}")
    Path("rain.csv").write_text("station,mm\nKhon Kaen,12.5\nUdon Thani,3.0\n", encoding="utf-8")
    draft = payload["dataset"]["draft"]["id"]
    args = ["upload", "rain.csv", "--dataset", draft, "--token", token, "--no-progress"]
    sys.exit(subprocess.run([satreps, *args, "--url", URL]).returncode)


if __name__ == "__main__":
    main()
