"""The upload state machine: the one place that says which state may follow which.

AWAITING_UPLOAD -> UPLOADED -> QUEUED -> PROCESSING -> READY | FAILED | REJECTED | QUARANTINED.
A transient fault (clamd unreachable included) puts PROCESSING back to QUEUED (a retry); the
uploader may abort an upload that has not been processed (ABORTED). QUARANTINED is where an
upload ClamAV finds infected ends, with the signature's name. READY, FAILED, REJECTED,
ABORTED and QUARANTINED are final.
"""

from __future__ import annotations

from sqlalchemy.orm import object_session

from server.core.db import utcnow
from server.core.errors import DomainError
from server.datasets.errors import DatasetErrorCode
from server.models import Upload
from server.models.enums import UploadState
from server.notifications.events import emit

S = UploadState
NEXT: dict[UploadState, frozenset[UploadState]] = {
    S.AWAITING_UPLOAD: frozenset({S.UPLOADED, S.REJECTED, S.ABORTED}),
    S.UPLOADED: frozenset({S.QUEUED, S.REJECTED, S.ABORTED}),
    S.QUEUED: frozenset({S.PROCESSING, S.FAILED}),
    S.PROCESSING: frozenset({S.READY, S.FAILED, S.REJECTED, S.QUEUED, S.QUARANTINED}),
    S.READY: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.ABORTED: frozenset(),
    S.QUARANTINED: frozenset(),
}
FINAL = frozenset(s for s, nxt in NEXT.items() if not nxt)
_STAMPS = {
    S.UPLOADED: "uploaded_at",
    S.QUEUED: "queued_at",
    S.PROCESSING: "started_at",
    S.READY: "finished_at",
    S.FAILED: "finished_at",
    S.REJECTED: "finished_at",
    S.ABORTED: "finished_at",
    S.QUARANTINED: "finished_at",
}


def move(
    upload: Upload,
    to: UploadState,
    *,
    code: str | None = None,
    message: str | None = None,
    signature: str | None = None,
) -> None:
    """Move an upload to `to`, stamping the time; refuse moves the machine does not allow."""
    if to not in NEXT[upload.state]:
        raise DomainError.one(
            DatasetErrorCode.INVALID_UPLOAD_STATE,
            f"upload {upload.id} is {upload.state.value}; it cannot become {to.value}",
            "uploadId",
        )
    now = utcnow()
    upload.state = to
    upload.updated_at = now
    if stamp := _STAMPS.get(to):
        setattr(upload, stamp, now)
    if to in (S.FAILED, S.REJECTED):
        upload.error_code, upload.error_message = code or "FAILED", message
    if to == S.QUARANTINED:
        if not signature:
            raise ValueError("a quarantined upload names the signature found")
        upload.error_code, upload.error_message = code or "MALWARE_FOUND", message
        upload.malware_signature = signature[:255]
    if to == S.PROCESSING:
        upload.attempts += 1
    if to in ANNOUNCED:
        _announce(upload, to)


ANNOUNCED = {
    S.READY: "upload.ready",
    S.FAILED: "upload.failed",
    S.QUARANTINED: "upload.quarantined",
}


def _announce(upload: Upload, to: UploadState) -> None:
    """The event's outbox row, in the transaction that writes the new state (the upload's
    session): committed with it or not at all. Its project, dataset and institution are
    filled in by the fan-out (server/notifications/fanout.py)."""
    session = object_session(upload)
    if session is None:  # a state worked out on a detached row: nothing is written, nor told
        return
    payload = {"filename": upload.filename, "path": upload.path, "state": to.value}
    if upload.error_code:
        payload["code"] = upload.error_code
    if upload.malware_signature:
        payload["signature"] = upload.malware_signature
    emit(session, ANNOUNCED[to], upload_id=upload.id, payload=payload)


def _reachable(start: UploadState) -> frozenset[UploadState]:
    seen: set[UploadState] = set()
    frontier = set(NEXT[start])
    while frontier:
        state = frontier.pop()
        seen.add(state)
        frontier |= NEXT[state] - seen
    return frozenset(seen)


REACHABLE = {state: _reachable(state) for state in NEXT}


def passed_through(last: UploadState, announced: UploadState, now: UploadState) -> bool:
    """Whether an upload last seen `last` and now `now` went through `announced` on its way:
    a subscriber that reads the row after an event may find it already further on."""
    return (
        announced not in (last, now)
        and announced in REACHABLE[last]
        and now in REACHABLE[announced]
    )
