"""PDF documents (workers/processing/formats/pdf.py, pypdf in the sandbox): pages, title,
author, dates, the text (bounded in the profile for search, whole as an artifact). Real
files: pypdf's own sample PDFs (tests/workers/data/README.md)."""

from __future__ import annotations

from pathlib import Path

import pypdf

from tests.fixtures.processing import fails, run
from workers.processing import ErrorCode
from workers.processing.formats.pdf import SEARCH_CHARS, pdf_date

DATA = Path(__file__).parent / "data"


def test_a_pdf_with_its_metadata_and_text(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "metadata.pdf").read_bytes(), "report.pdf")
    assert result.format.kind == "pdf"
    profile = result.profile
    assert profile is not None and profile["kind"] == "document"
    assert (profile["pages"], profile["pdf_version"]) == (1, "1.5")
    assert (profile["title"], profile["author"]) == ("The Title", "Martin Thoma")
    assert profile["subject"] == "The Subject"
    assert profile["created"] == "2022-04-15T07:32:43Z"  # D:20220415093243+02'00'
    assert profile["coverage"] == {"bbox": None, "time_start": None, "time_end": None}


def test_the_text_goes_to_search_and_to_an_artifact(tmp_path: Path) -> None:
    result = run(tmp_path, (DATA / "crazyones.pdf").read_bytes(), "crazy.pdf")
    profile = result.profile
    assert profile is not None
    expected = pypdf.PdfReader(DATA / "crazyones.pdf").pages[0].extract_text()
    assert "The Crazy Ones" in expected
    assert profile["search_text"].startswith("The Crazy Ones")
    assert "troublemakers" in profile["search_text"]
    assert profile["text_chars"] == len(profile["search_text"]) <= SEARCH_CHARS
    assert profile["text_truncated"] is False
    (kind, name, text) = result.extra_artifacts[0]
    assert (kind, name) == ("text", "text.txt")
    assert isinstance(text, Path) and profile["search_text"] in text.read_text()


def test_a_pdf_that_needs_a_password_is_encrypted(tmp_path: Path) -> None:
    body = (DATA / "r6-both-passwords.pdf").read_bytes()
    error = fails(ErrorCode.ENCRYPTED, tmp_path, body, "secret.pdf")
    assert "password" in error.message


def test_a_corrupt_pdf_is_unreadable_and_the_next_one_is_read(tmp_path: Path) -> None:
    body = (DATA / "crazyones.pdf").read_bytes()
    error = fails(ErrorCode.UNREADABLE, tmp_path, body[: len(body) // 3], "cut.pdf")
    assert "not a readable PDF" in error.message
    ok = run(tmp_path, body, "next.pdf")
    assert ok.profile is not None and ok.profile["pages"] == 1


def test_pdf_dates() -> None:
    assert pdf_date("D:20150604133406-06'00'") == "2015-06-04T19:34:06Z"
    assert pdf_date("D:2022") == "2022-01-01T00:00:00Z"
    assert pdf_date("D:20221399") is None
    assert pdf_date(None) is None
