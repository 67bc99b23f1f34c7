"""The uploaders' progress display: rich bars on stderr, or nothing at all.

One place for both `satreps upload FILE` (one bar per phase) and `satreps upload DIR` (an
overall bar of bytes and files, the files in flight beneath it). It is off when asked
(`--no-progress`) and when its console is not a terminal (stderr redirected to a file or a
pipe gets no bar and no control codes). rich is imported only when a bar is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console


class Advancing(Protocol):
    """What counts bytes as they go (sha256_of, a PUT's body)."""

    def advance(self, amount: int) -> None: ...


def terminal(enabled: bool, console: Console | None = None) -> Console | None:
    """The console to draw on: stderr's (or the one given) when enabled and a terminal."""
    if not enabled:
        return None
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    return console if console.is_terminal else None


class Bars:
    """Rows of description, bar, bytes done/total, rate and time left (and, when `counted`,
    a files column); every method does nothing when the display is off."""

    def __init__(
        self, enabled: bool, console: Console | None = None, *, counted: bool = False
    ) -> None:
        self._bar: Any = None
        self._current: Any = None
        self.console = terminal(enabled, console)
        if self.console is not None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            files = (TextColumn("{task.fields[files]}"),) if counted else ()
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                *files,
                console=self.console,
            )
        self._counted = counted

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def __enter__(self) -> Bars:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def add(self, description: str, total: int, completed: int = 0, files: str = "") -> Any:
        """A new row (the last one added is the one `advance` moves by default)."""
        if self._bar is None:
            return None
        fields = {"files": files} if self._counted else {}
        self._current = self._bar.add_task(description, total=total, completed=completed, **fields)
        return self._current

    def task(self, description: str, total: int, completed: int = 0) -> None:
        self.add(description, total, completed)

    def advance(self, amount: int, row: Any = None) -> None:
        row = self._current if row is None else row
        if self._bar is not None and row is not None:
            self._bar.advance(row, amount)

    def update(self, row: Any, **changes: Any) -> None:
        if self._bar is not None and row is not None:
            self._bar.update(row, **changes)

    def remove(self, row: Any) -> None:
        if self._bar is not None and row is not None:
            self._bar.remove_task(row)
            if row == self._current:
                self._current = None

    def log(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
