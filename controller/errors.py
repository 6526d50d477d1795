"""Errors, named by how the caller must react.

Library code raises these; only the CLI prints them and turns them into exit codes. Every error
carries a message (what went wrong, and where) and a hint (what to do next).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as we know."""

    file: str
    message: str
    hint: str = ""
    pointer: str = ""  # JSON pointer into the document, "" for the whole file
    line: int | None = None  # 1-based, where the YAML parser knew it
    rule: str = "schema"
    level: str = "error"  # "warning": reported, but fails no check

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.pointer:
            where += f" {self.pointer}"
        return where

    def render(self) -> str:
        text = f"{self.location()}: {'warning: ' if self.level == 'warning' else ''}{self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


def failing(problems: Sequence[Problem]) -> list[Problem]:
    """The problems that fail a check (warnings do not)."""
    return [p for p in problems if p.level != "warning"]


class ControllerError(Exception):
    exit_code = 3

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class BadInput(ControllerError):
    """The user gave something we cannot work with: fix the input and run again."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", problems: Sequence[Problem] = ()):
        super().__init__(message, hint)
        self.problems = tuple(problems)

    def render(self) -> str:
        lines = [super().render()]
        lines += [f"  {p.render()}" for p in self.problems]
        return "\n".join(lines)


class ToolFailed(ControllerError):
    """An external program failed; the message carries the command to paste and its stderr."""

    exit_code = 3

    def __init__(self, command: Sequence[str], returncode: int, stderr: str, hint: str = ""):
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        shown = " ".join(command)
        super().__init__(f"command failed with exit code {returncode}: {shown}\n{tail}", hint)
        self.command = tuple(command)
        self.returncode = returncode


class Transient(ControllerError):
    """Worth retrying later: network, remote service, a lock held by another run."""

    exit_code = 4
