"""The processing warnings (ragged rows, undecodable text, a fallback, ...) of the files a
folder upload left READY, for `satreps upload DIR` to print and put in its `--json` report.

They come with the one listing of the version's uploads that ends the wait (the wait itself
polls counts by state, folder_transfer.py): no request of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


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


def ready_warnings(uploads: Iterable[dict[str, Any]]) -> list[FileWarning]:
    """The warnings of the READY uploads among `uploads` (each `{path, state, warnings}`, as
    the listing gives them), by path, each file's in the order processing noticed them."""
    found = [
        FileWarning(upload["path"], warning["code"], warning["message"])
        for upload in uploads
        if upload.get("state") == "READY"
        for warning in upload.get("warnings") or []
    ]
    found.sort(key=lambda warning: warning.path)  # stable: a file's keep their order
    return found
