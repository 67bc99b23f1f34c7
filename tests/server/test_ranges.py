"""Range, If-Range and If-None-Match as RFC 9110 reads them (server/http/ranges.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from starlette.datastructures import Headers

from server.http.ranges import (
    DownloadCode,
    RangeRefused,
    Representation,
    Span,
    http_date,
    parse_range,
    span_of,
)

REP = Representation(100, "abc", dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes=0-9", (0, 10)),
        ("bytes=90-", (90, 10)),
        ("bytes=90-1000", (90, 10)),  # a last byte past the end is the end
        ("bytes=-10", (90, 10)),
        ("bytes=-1000", (0, 100)),  # a suffix longer than the body is the body
        ("bytes=99-99", (99, 1)),
        ("BYTES = 5 - 6", (5, 2)),
        ("items=0-9", None),  # another unit: ignored
        ("bytes=0-9,20-29", None),  # several ranges: the whole body
    ],
)
def test_single_ranges(value: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(value, 100) == expected


@pytest.mark.parametrize("value", ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=500-600"])
def test_ranges_outside_the_body_are_unsatisfiable(value: str) -> None:
    with pytest.raises(RangeRefused) as refused:
        parse_range(value, 100)
    assert refused.value.code == DownloadCode.RANGE_NOT_SATISFIABLE


@pytest.mark.parametrize("value", ["bytes=", "bytes=-", "bytes=a-b", "bytes=9-3", "bytes=1-2-3"])
def test_malformed_byte_ranges_are_refused(value: str) -> None:
    with pytest.raises(RangeRefused) as refused:
        parse_range(value, 100)
    assert refused.value.code == DownloadCode.INVALID_RANGE


def test_an_empty_body_has_no_satisfiable_range() -> None:
    for value in ("bytes=0-", "bytes=-5"):
        with pytest.raises(RangeRefused):
            parse_range(value, 0)


def test_if_range_serves_the_range_only_for_the_current_validator() -> None:
    ranged = Headers({"range": "bytes=10-19"})
    assert span_of(ranged, REP) == Span(10, 10, True)
    for current in ('"abc"', http_date(REP.last_modified)):  # type: ignore[arg-type]
        headers = Headers({"range": "bytes=10-19", "if-range": current})
        assert span_of(headers, REP) == Span(10, 10, True)
    for stale in ('"other"', 'W/"abc"', "Sat, 01 Jan 2000 00:00:00 GMT", "garbage"):
        headers = Headers({"range": "bytes=10-19", "if-range": stale})
        assert span_of(headers, REP) == Span(0, 100, False)
    assert span_of(Headers({}), REP) == Span(0, 100, False)
