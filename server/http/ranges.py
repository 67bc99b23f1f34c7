"""Conditional and partial answers of the downloads the server serves itself (RFC 9110):
`HEAD`, a single `Range` (bytes=a-b, a-, -n), `If-Range`, `If-None-Match`, with a strong
ETag and Last-Modified on every answer.

Choices where the RFC leaves one: a Range of another unit, or of several ranges, is
ignored and the whole body is answered (200); a `bytes=` Range that does not parse is
refused (416 `INVALID_RANGE`), since a resuming client that gets the whole body where it
asked for a tail would append it to what it has."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from email.utils import format_datetime, parsedate_to_datetime

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from server.datasets.downloads import DownloadCode

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class Representation:
    """What the answer's validators and framing say of the whole body."""

    size: int
    etag: str  # opaque, unquoted; strong (a digest of the bytes or of what names them)
    last_modified: dt.datetime | None = None

    @property
    def quoted_etag(self) -> str:
        return f'"{self.etag}"'

    def headers(self) -> dict[str, str]:
        found = {"ETag": self.quoted_etag, "Accept-Ranges": "bytes"}
        if self.last_modified is not None:
            found["Last-Modified"] = http_date(self.last_modified)
        return found


@dataclass(frozen=True)
class Span:
    """The bytes to serve: the whole body (`partial` False) or one range of it."""

    offset: int
    length: int
    partial: bool

    def content_range(self, size: int) -> str:
        return f"bytes {self.offset}-{self.offset + self.length - 1}/{size}"


class RangeRefused(Exception):
    def __init__(self, code: DownloadCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def http_date(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_datetime(moment.astimezone(dt.UTC).replace(microsecond=0), usegmt=True)


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """(offset, length) of a single `bytes=` range; None to answer the whole body (another
    unit, several ranges). RangeRefused for a malformed or unsatisfiable one."""
    unit, sep, specs = value.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in specs:
        return None  # several ranges: the whole body, once
    match = _SPEC.match(specs)
    if match is None or match.groups() == ("", ""):
        raise RangeRefused(DownloadCode.INVALID_RANGE, f"not a byte range: {value[:100]!r}")
    first, last = match.groups()
    if first == "":  # the last n bytes
        count = int(last)
        if count == 0 or size == 0:
            raise _unsatisfiable(value, size)
        count = min(count, size)
        return size - count, count
    start = int(first)
    if last != "" and int(last) < start:
        raise RangeRefused(DownloadCode.INVALID_RANGE, f"the range ends before it starts: {value}")
    if start >= size:
        raise _unsatisfiable(value, size)
    end = size - 1 if last == "" else min(int(last), size - 1)
    return start, end - start + 1


def _unsatisfiable(value: str, size: int) -> RangeRefused:
    return RangeRefused(
        DownloadCode.RANGE_NOT_SATISFIABLE, f"{value[:100]} is outside the {size} bytes"
    )


def if_range_holds(value: str, rep: Representation) -> bool:
    """If-Range: the range is served only when the validator is the current one (a strong
    ETag, or exactly the Last-Modified date)."""
    value = value.strip()
    if value.startswith(("W/", '"')):
        return value == rep.quoted_etag  # a weak tag never matches (strong comparison)
    if rep.last_modified is None:
        return False
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return http_date(when) == http_date(rep.last_modified)


def not_modified(headers: Headers, rep: Representation) -> bool:
    """If-None-Match (weak comparison) holds: 304."""
    value = headers.get("if-none-match")
    if value is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in value.split(",")}
    return "*" in tags or rep.quoted_etag in tags


def span_of(headers: Headers, rep: Representation) -> Span:
    """The span a GET or HEAD with these headers answers. RangeRefused: 416."""
    whole = Span(0, rep.size, False)
    value = headers.get("range")
    if value is None:
        return whole
    condition = headers.get("if-range")
    if condition is not None and not if_range_holds(condition, rep):
        return whole
    found = parse_range(value, rep.size)
    return whole if found is None else Span(found[0], found[1], True)


def refusal(error: RangeRefused, rep: Representation) -> JSONResponse:
    headers = {"Content-Range": f"bytes */{rep.size}", **rep.headers()}
    body = {"error": {"code": error.code.value, "message": str(error)}}
    return JSONResponse(body, status_code=416, headers=headers)


def framing(span: Span, rep: Representation) -> tuple[int, dict[str, str]]:
    """The status and headers of a GET (HEAD: the same, without the body)."""
    headers = {**rep.headers(), "Content-Length": str(span.length)}
    if not span.partial:
        return 200, headers
    headers["Content-Range"] = span.content_range(rep.size)
    return 206, headers
