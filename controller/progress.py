"""Progress of long work (fetching, publishing) for a person watching a terminal. The only rich
user, imported only when a terminal draws it.

``Progress`` itself is silent: what pipes, scripts and CI get, where the result is told once at
the end. ``TerminalProgress`` draws one line on standard error (the current step; while fetching,
packages done of the total and bytes with their rate) and leaves nothing behind when it closes. Fetching threads
call it at once: it must stay thread-safe.
"""

from __future__ import annotations

import threading
from typing import TextIO


class Progress:
    def __call__(self, message: str) -> None:
        """A step begins (``message`` says which)."""

    def start_fetch(self, packages: int, size: int) -> None:
        """Fetching begins: ``packages`` files of ``size`` bytes in all."""

    def advance(self, nbytes: int) -> None:
        """``nbytes`` more bytes arrived (from any fetching thread)."""

    def package_done(self) -> None:
        """One more package is in (or failed)."""

    def close(self) -> None:
        """The work is over: clear the display."""


class TerminalProgress(Progress):
    def __init__(self, stream: TextIO):
        from rich.console import Console
        from rich.filesize import decimal
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn
        from rich.progress import Progress as Bars

        self.size_text = decimal
        self.lock = threading.Lock()
        self.bars = Bars(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                         TextColumn("{task.fields[detail]}"), TransferSpeedColumn(), TimeRemainingColumn(),
                         console=Console(file=stream), transient=True)
        self.task = self.bars.add_task("starting", total=None, detail="")
        self.packages = self.done = 0
        self.size = self.received = 0
        self.bars.start()

    def __call__(self, message: str) -> None:
        if not self.packages or self.done >= self.packages:  # a fetch in progress keeps its line
            self.bars.update(self.task, description=message, total=None, detail="")

    def start_fetch(self, packages: int, size: int) -> None:
        with self.lock:
            self.packages, self.size, self.done, self.received = packages, size, 0, 0
            self.bars.reset(self.task, total=size, description="fetching", detail=self._detail())

    def advance(self, nbytes: int) -> None:
        with self.lock:
            self.received += nbytes
            self.bars.update(self.task, advance=nbytes, detail=self._detail())

    def package_done(self) -> None:
        with self.lock:
            self.done += 1
            self.bars.update(self.task, detail=self._detail())

    def _detail(self) -> str:
        return (f"{self.done}/{self.packages} packages, {self.size_text(self.received)} of "
                f"{self.size_text(self.size)}")

    def close(self) -> None:
        self.bars.stop()
