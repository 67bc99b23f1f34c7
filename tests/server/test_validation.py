"""Identifier checks: ROR (ISO 7064 Mod 97-10) and ORCID (MOD 11-2); free text."""

import pytest

from server.core.errors import Collector
from server.core.validation import (
    clean_text,
    normalize_country,
    normalize_orcid,
    normalize_ror,
    orcid_problem,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("057zh3y96", "057zh3y96"),  # The University of Tokyo
        ("https://ror.org/02kpeqv85", "02kpeqv85"),  # Kyoto University
        ("01GGX4157", "01ggx4157"),  # CERN, upper case
        ("057zh3y97", None),  # checksum
        ("157zh3y96", None),  # must start with 0
        ("057zh3yi6", None),  # 'i' is not Crockford base32
        ("", None),
    ],
)
def test_ror(raw, expected):
    assert normalize_ror(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0000-0002-1825-0097", "0000-0002-1825-0097"),
        ("https://orcid.org/0000-0001-5109-3700", "0000-0001-5109-3700"),
        ("0000-0002-1694-233x", "0000-0002-1694-233X"),
        ("0000-0002-1825-0098", None),
        ("0000-0002-1825", None),
        ("not an orcid", None),
    ],
)
def test_orcid(raw, expected):
    assert normalize_orcid(raw) == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("0000-0002-1825-0097", None),
        ("0000 0002 1825 0097", None),
        ("hello", "format"),
        ("0000-0002-1825", "format"),
        ("0000-0002-1825-009Y", "format"),
        ("0000-0002-1825-0098", "checksum"),
        ("0000-0001-2281-955X", "range"),  # a valid ISNI (checksum right), not an ORCID iD
    ],
)
def test_orcid_problem_names_what_is_wrong(raw, problem):
    assert orcid_problem(raw) == problem


def test_country():
    assert normalize_country(" th ") == "TH"
    assert normalize_country("ZZ") is None
    assert normalize_country("THA") is None


@pytest.mark.parametrize(
    ("raw", "cleaned", "codes"),
    [
        ("  Ha\u0300 No\u0323\u0302i ", "Hà Nội", []),  # stripped, NFC
        ("\U0001f469\u200d\U0001f52c", "\U0001f469\u200d\U0001f52c", []),  # a pair is fine
        ("a\x00b", "a\x00b", ["INVALID_TEXT"]),
        ("a\ud800b", "a\ud800b", ["INVALID_TEXT"]),  # lone surrogates: JSON's \\ud800
        ("\udc00", "\udc00", ["INVALID_TEXT"]),
        (" \u3000 ", None, ["REQUIRED"]),
    ],
)
def test_clean_text(raw, cleaned, codes):
    errors = Collector()
    assert clean_text(errors, "f", raw, max_len=50, required=True) == cleaned
    assert [d.code for d in errors.details] == codes
