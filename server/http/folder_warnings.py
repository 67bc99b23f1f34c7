"""The processing warnings (ragged rows, undecodable text, a fallback, ...) of the files a
folder upload left READY, for `satreps upload DIR` to print and put in its `--json` report.

The status listing polled while the folder is processed does not ask for them (each poll
lists every upload of the version); once the wait is over they are asked for the READY
uploads only, a page of ids per request (`nodes(ids:)`), not one request per file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

PAGE = 200  # ids per request: costs 1 + 200 + 200 x 5 = 1201 of the 50,000 a query may
WARNINGS = """query($ids: [ID!]!) { nodes(ids: $ids) { ... on DatasetUpload {
    id path warnings { code message } } } }"""


class _Asks(Protocol):
    def graphql(self, query: str, **variables: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FileWarning:
    """One processing warning of a READY file of the folder."""

    path: str
    code: str
    message: str

    def line(self) -> str:
        return f"{self.path}: {self.code}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


def ready_warnings(client: _Asks, uploads: Iterable[dict[str, Any]]) -> list[FileWarning]:
    """The warnings of the READY uploads among `uploads` (each `{id, state, ...}`), by path,
    each file's in the order processing noticed them."""
    ids = [upload["id"] for upload in uploads if upload.get("state") == "READY"]
    found: list[FileWarning] = []
    for start in range(0, len(ids), PAGE):
        nodes = client.graphql(WARNINGS, ids=ids[start : start + PAGE])["nodes"]
        for node in nodes:
            for warning in (node or {}).get("warnings") or []:
                found.append(FileWarning(node["path"], warning["code"], warning["message"]))
    found.sort(key=lambda warning: warning.path)  # stable: a file's keep their order
    return found
