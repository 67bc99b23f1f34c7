"""The uploaders' progress display: drawn on a terminal, silent anywhere else."""

from __future__ import annotations

import io
import re

from rich.console import Console

from server.http.progress import Bars, terminal


def drawn(console: Console) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue())  # type: ignore[attr-defined]


def test_a_bar_on_a_terminal_shows_bytes_done_of_the_total() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    with Bars(True, console) as bars:
        bars.task("upload levels.csv", 3000, completed=1000)
        bars.advance(1500)
        bars.advance(500)
        bars.log("a line above the bar")
    text = drawn(console)
    assert "a line above the bar" in text
    assert re.search(r"upload levels\.csv .* 3\.0/3\.0 kB", text.rsplit("above the bar", 1)[-1])


def test_off_when_asked_or_when_the_console_is_no_terminal() -> None:
    on_terminal = Console(file=io.StringIO(), force_terminal=True)
    to_a_file = Console(file=io.StringIO())
    assert terminal(True, on_terminal) is on_terminal
    assert terminal(False, on_terminal) is None and terminal(True, to_a_file) is None
    for console, enabled in ((on_terminal, False), (to_a_file, True)):
        with Bars(enabled, console, counted=True) as bars:
            row = bars.add("upload", 10, files="0/1 files")
            bars.advance(10, row)
            bars.update(row, files="1/1 files")
            bars.log("said")
        assert not bars.shown and console.file.getvalue() == ""  # type: ignore[attr-defined]
