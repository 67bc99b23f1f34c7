"""The uploader's GraphQL calls tried again (server/http/client_retry.py): a 503 that says
the database refused the call for now (DATABASE_BUSY, DATABASE_UNAVAILABLE: nothing was
written) up to DATABASE_TRIES times, each pause the answer's Retry-After or the backoff,
whichever is longer, at most LONGEST_PAUSE; any other 5xx TRIES times. The refusals are the
server's own (server.http.middleware.database_down), served by an httpx MockTransport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from server.http.client_retry import DATABASE_TRIES, LONGEST_PAUSE, TRIES
from server.http.folder_transfer import START
from server.http.middleware import database_down
from server.http.upload_client import Uploader, UploadError

URL = "http://testserver/graphql"
STARTED = {"data": {"startUploads": {"entries": [], "errors": []}}}


def server_answer(busy: bool = True) -> httpx.Response:
    refusal = database_down("/graphql", busy=busy)
    return httpx.Response(
        refusal.status_code, headers=list(refusal.headers.items()), content=refusal.body
    )


def answering(answers: list[Callable[[], httpx.Response]], sent: list[bytes]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return answers.pop(0)() if answers else httpx.Response(200, json=STARTED)

    return httpx.Client(transport=httpx.MockTransport(handle))


def uploader(http: httpx.Client, slept: list[float]) -> Uploader:
    return Uploader(URL, "token", http=http, progress=False, sleep=slept.append)


def test_start_uploads_refused_as_busy_is_sent_again_until_it_succeeds() -> None:
    sent: list[bytes] = []
    slept: list[float] = []
    busy = [server_answer] * 4  # more than the TRIES of other 5xx answers
    with answering(busy, sent) as http:
        data = uploader(http, slept).graphql(START, v="version", files=[])
    assert data == STARTED["data"]
    assert len(sent) == 5 and len(set(sent)) == 1  # the same call each time
    assert slept == [1.0, 1.0, 2.0, 4.0]  # Retry-After: 1, then the backoff once longer


def test_the_retries_are_bounded() -> None:
    sent: list[bytes] = []
    slept: list[float] = []
    with answering([server_answer] * 100, sent) as http:
        with pytest.raises(UploadError, match="the database is busy: try again"):
            uploader(http, slept).graphql(START, v="version", files=[])
    assert len(sent) == DATABASE_TRIES
    assert len(slept) == DATABASE_TRIES - 1


def test_a_long_retry_after_is_capped_and_an_unavailable_database_is_retried_too() -> None:
    def restarting() -> httpx.Response:
        answer = server_answer(busy=False)
        answer.headers["Retry-After"] = "3600"
        return answer

    sent: list[bytes] = []
    slept: list[float] = []
    with answering([restarting, restarting], sent) as http:
        assert uploader(http, slept).graphql(START, v="version", files=[]) == STARTED["data"]
    assert slept == [LONGEST_PAUSE, LONGEST_PAUSE]


def test_other_server_errors_keep_their_three_tries() -> None:
    sent: list[bytes] = []
    slept: list[float] = []
    failing = [lambda: httpx.Response(500, json={"errors": [{"message": "boom"}]})] * 10
    with answering(failing, sent) as http:
        with pytest.raises(UploadError, match="boom"):
            uploader(http, slept).graphql(START, v="version", files=[])
    assert len(sent) == TRIES
    assert slept == [0.5, 1.0]
