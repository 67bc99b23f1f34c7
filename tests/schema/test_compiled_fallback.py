"""A bug of the compiler (an exception other than NotCompilable while compiling a root
field) is logged, and strawberry answers the field: the client never sees the raw error."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from schema.compiled import roots

QUERY = "{ themes { code name } }"


async def test_a_compiler_bug_is_logged_and_strawberry_answers(
    admin: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    expected = await admin(QUERY)

    def broken(*_: Any) -> Any:
        raise RuntimeError("secret detail of a compiler bug")

    monkeypatch.setitem(roots.ROOTS, "themes", broken)
    with caplog.at_level(logging.ERROR, logger="schema.compiled"):
        answered = await admin("{ themes { code name } }\n")  # a new document: compiled anew
    assert answered == expected
    failures = [r for r in caplog.records if "compiling themes failed" in r.getMessage()]
    assert failures and failures[0].exc_info is not None
