"""The job functions by name: what `satreps worker` (arq) and the in-process runner run."""

from __future__ import annotations

from server.jobs import PROCESS_UPLOAD, JobFunction
from workers.pipeline import process_upload

JOBS: dict[str, JobFunction] = {PROCESS_UPLOAD: process_upload}
