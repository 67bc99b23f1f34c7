"""The README stays true: its settings table is generated from the settings object, its
error codes from the enums."""

from pathlib import Path

from schema.errors import codes_table
from server.core.config import settings_table

README = Path(__file__).parents[1] / "README.md"


def test_settings_table_is_current():
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- settings:start -->\n") + len("<!-- settings:start -->\n")
    end = text.index("<!-- settings:end -->")
    assert text[start:end] == settings_table(), "README settings are stale: run `satreps settings`"


def test_error_codes_table_is_current():
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- error-codes:start -->\n") + len("<!-- error-codes:start -->\n")
    end = text.index("<!-- error-codes:end -->")
    assert text[start:end] == codes_table(), "README codes are stale: run `satreps error-codes`"


def test_readme_commands_exist():
    text = README.read_text(encoding="utf-8")
    assert "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/satreps serve" in text
    assert "\nscripts/test\n" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "exec scripts/test" in ci
