"""Whether the strawberry twin of a differential test run (tests/conftest.py DIFFERENTIAL)
is answering: statement counters leave its statements out, as if it were not there."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class _Twin:
    sending = False


TWIN = _Twin()


@contextmanager
def sending() -> Iterator[None]:
    TWIN.sending = True
    try:
        yield
    finally:
        TWIN.sending = False
