"""The job functions by name: what `satreps worker` (arq) and the in-process runner run."""

from __future__ import annotations

from server.core.jobs import (
    FIXITY_CHECK,
    PROCESS_BATCH,
    PROCESS_UPLOAD,
    WRITE_PROVENANCE,
    JobFunction,
)
from workers.batch import hand_back_batch, process_batch
from workers.fixity import fixity_check
from workers.instrument import hand_back_upload, instrumented
from workers.provenance import process_upload_with_provenance, write_provenance

JOBS: dict[str, JobFunction] = {
    PROCESS_UPLOAD: instrumented(
        PROCESS_UPLOAD, process_upload_with_provenance, on_cancel=hand_back_upload
    ),
    PROCESS_BATCH: instrumented(PROCESS_BATCH, process_batch, on_cancel=hand_back_batch),
    FIXITY_CHECK: instrumented(FIXITY_CHECK, fixity_check),
    WRITE_PROVENANCE: instrumented(WRITE_PROVENANCE, write_provenance),
}
