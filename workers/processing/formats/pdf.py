"""PDF documents, read by pypdf in the sandbox's child process (pure Python, but a crafted
PDF can make a parser loop or allocate without end: the sandbox's limits hold it).

The profile:

    {"kind": "document", "format": "PDF", "pdf_version": "1.5", "pages": int,
     "title", "author", "subject", "keywords", "creator", "producer": str | None,
     "created", "modified": ISO 8601 | None (the document information dictionary),
     "encrypted": bool (opened with the empty password when it is),
     "text_pages": pages whose text was extracted, "text_chars": characters extracted,
     "text_truncated": bool,
     "search_text": the first `SEARCH_CHARS` characters of the text,
     "coverage": {"bbox": None, "time_start": None, "time_end": None}}

`search_text` is what the datasets' full-text search indexes (migration 0013 adds every
file profile's `search_text` to its dataset's search body): bounded, so a long report
cannot swell the index or the profile. The whole extracted text, up to `_MAX_TEXT_BYTES`
(UTF-8) from at most `_MAX_TEXT_PAGES` pages, is the `text` artifact (text.txt).
A PDF whose pages need a password is ENCRYPTED; one pypdf cannot parse UNREADABLE.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

from ..model import ErrorCode, ProcessingError
from . import coverage as cov

SEARCH_CHARS = 32 * 1024
_MAX_TEXT_BYTES = 16 * 1024 * 1024
_MAX_TEXT_PAGES = 5000
_META = ("title", "author", "subject", "keywords", "creator", "producer")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_PDF_DATE = re.compile(
    r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz+\-])?(\d{2})?'?(\d{2})?"
)


def extract(path: str, workdir: str, options: dict[str, Any]) -> dict[str, Any]:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repairs: the answer says enough
    try:
        reader = PdfReader(path, strict=False)
        encrypted = reader.is_encrypted
        if encrypted and not reader.decrypt(""):
            raise ProcessingError(ErrorCode.ENCRYPTED, "the PDF needs a password")
        profile = _describe(reader, encrypted)
        text_file = Path(workdir) / "text.txt"
        _text(reader, text_file, profile)
    except (FileNotDecryptedError, DependencyError) as error:
        message = f"the PDF cannot be decrypted: {error}"
        raise ProcessingError(ErrorCode.ENCRYPTED, message) from error
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        message = f"not a readable PDF: {type(error).__name__}: {error}"[:300]
        raise ProcessingError(ErrorCode.UNREADABLE, message) from error
    files = [{"kind": "text", "name": "text.txt", "file": "text.txt"}]
    return {"profile": profile, "warnings": [], "files": files}


def _describe(reader: Any, encrypted: bool) -> dict[str, Any]:
    info = reader.metadata or {}
    profile: dict[str, Any] = {
        "kind": "document",
        "format": "PDF",
        "pdf_version": _version(reader.pdf_header),
        "pages": len(reader.pages),
    }
    for key in _META:
        profile[key] = _clean(info.get(f"/{key.capitalize()}"))
    profile["created"] = pdf_date(info.get("/CreationDate"))
    profile["modified"] = pdf_date(info.get("/ModDate"))
    profile["encrypted"] = encrypted
    profile["coverage"] = cov.empty()
    profile["warnings"] = []
    return profile


def _text(reader: Any, out: Path, profile: dict[str, Any]) -> None:
    """Page by page into `out`, bounded; the first characters into the profile."""
    written = 0
    chars = 0
    pages = 0
    head: list[str] = []
    head_chars = 0
    truncated = False
    with out.open("w", encoding="utf-8") as sink:
        for index, page in enumerate(reader.pages):
            if index >= _MAX_TEXT_PAGES:
                truncated = True
                break
            text = _SPACES.sub(" ", page.extract_text() or "").strip()
            pages += 1
            if not text:
                continue
            body = (text + "\n\f\n").encode("utf-8")
            if written + len(body) > _MAX_TEXT_BYTES:
                truncated = True
                break
            sink.write(text + "\n\f\n")
            written += len(body)
            chars += len(text)
            if head_chars < SEARCH_CHARS:
                head.append(text[: SEARCH_CHARS - head_chars])
                head_chars += len(head[-1])
    profile["text_pages"] = pages
    profile["text_chars"] = chars
    profile["text_truncated"] = truncated or chars > SEARCH_CHARS
    profile["search_text"] = "\n".join(head)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text[:1000] or None


def _version(header: Any) -> str | None:
    match = re.match(r"%PDF-(\d+\.\d+)", str(header or ""))
    return match.group(1) if match else None


def pdf_date(value: Any) -> str | None:
    """A PDF date (D:YYYYMMDDHHmmSSOHH'mm') as ISO 8601 UTC, or None."""
    match = _PDF_DATE.match(str(value or "").strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, off_h, off_m = match.groups()
    try:
        moment = dt.datetime(
            int(year),
            int(month or 1),
            int(day or 1),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
        )
    except ValueError:
        return None
    offset = dt.timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
    if sign == "-":
        offset = -offset
    zone = dt.timezone(offset) if sign in ("+", "-") else dt.UTC
    return cov.iso(moment.replace(tzinfo=zone))
