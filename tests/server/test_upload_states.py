"""The upload state machine allows exactly the documented moves."""

from __future__ import annotations

import pytest

from server.core.errors import DomainError
from server.datasets.upload_states import FINAL, NEXT, move, passed_through
from server.models import Upload
from server.models.enums import UploadState as S


def fresh(state: S = S.AWAITING_UPLOAD) -> Upload:
    return Upload(id=1, state=state, attempts=0, declared_size=1, filename="f", object_key="k")


def test_happy_path_stamps_each_step():
    upload = fresh()
    for state in (S.UPLOADED, S.QUEUED, S.PROCESSING, S.READY):
        move(upload, state)
    assert upload.state == S.READY
    assert upload.attempts == 1
    assert upload.uploaded_at <= upload.queued_at <= upload.started_at <= upload.finished_at


def test_retry_goes_back_to_queued_and_counts_attempts():
    upload = fresh(S.QUEUED)
    move(upload, S.PROCESSING)
    move(upload, S.QUEUED)
    move(upload, S.PROCESSING)
    assert upload.attempts == 2


def test_failure_keeps_code_and_message():
    upload = fresh(S.PROCESSING)
    move(upload, S.FAILED, code="CHECKSUM_MISMATCH", message="declared a..., got b...")
    assert (upload.error_code, upload.error_message) == (
        "CHECKSUM_MISMATCH",
        "declared a..., got b...",
    )


@pytest.mark.parametrize("start", list(S))
def test_every_forbidden_move_is_refused(start):
    for target in S:
        upload = fresh(start)
        if target in NEXT[start]:
            move(upload, target, signature="Eicar-Test-Signature")
            assert upload.state == target
        else:
            with pytest.raises(DomainError) as caught:
                move(upload, target)
            assert caught.value.details[0].code == "INVALID_UPLOAD_STATE"
            assert upload.state == start


def test_final_states():
    assert FINAL == {S.READY, S.FAILED, S.REJECTED, S.ABORTED, S.QUARANTINED}


def test_quarantine_follows_processing_only_and_keeps_the_signature():
    upload = fresh(S.PROCESSING)
    move(
        upload,
        S.QUARANTINED,
        message="ClamAV found Eicar-Test-Signature",
        signature="Eicar-Test-Signature",
    )
    assert (upload.state, upload.error_code, upload.malware_signature) == (
        S.QUARANTINED,
        "MALWARE_FOUND",
        "Eicar-Test-Signature",
    )
    assert upload.finished_at is not None
    with pytest.raises(ValueError, match="signature"):
        move(fresh(S.PROCESSING), S.QUARANTINED)
    for start in (S.QUEUED, S.UPLOADED, S.READY):
        with pytest.raises(DomainError):
            move(fresh(start), S.QUARANTINED, signature="x")


@pytest.mark.parametrize(
    ("last", "announced", "now", "expected"),
    [
        (S.AWAITING_UPLOAD, S.QUEUED, S.READY, True),  # read late: QUEUED still shown
        (S.QUEUED, S.PROCESSING, S.READY, True),
        (S.QUEUED, S.PROCESSING, S.QUEUED, True),  # a retry: PROCESSING came between
        (S.PROCESSING, S.PROCESSING, S.READY, False),  # already shown
        (S.QUEUED, S.READY, S.READY, False),  # the current state is shown as such
        (S.READY, S.QUEUED, S.READY, False),  # nothing follows a final state
        (S.AWAITING_UPLOAD, S.FAILED, S.READY, False),  # READY never follows FAILED
    ],
)
def test_passed_through(last, announced, now, expected):
    assert passed_through(last, announced, now) is expected
