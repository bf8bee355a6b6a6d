"""How every command fails and what it says next: one error line on stderr and an exit code, one "Next:" line.

Why one helper: five spellings of "print an error and exit" drifted apart (colour or not, "error:" or not,
exit 1 or 2). A command raises `fail(...)` (or lets a CommandError out); the root group (strangler/cli/app.py)
prints it once as "error: <problem>. Fix: <what to do>" and exits with its code.
"""
from __future__ import annotations

import typer

USAGE = 2   # the command was given something it cannot use (a bad name, option, file or project)
FAILED = 1  # the command ran and the thing it checks or does failed (a gate, a verify, a stack that won't start)


class CommandError(Exception):
    """A command's failure: `message` says the problem and the fix; `code` is the exit status."""

    def __init__(self, message: str, code: int = USAGE):
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = USAGE) -> CommandError:
    """The error to raise: `raise fail("no feature 'x' (did you mean 'y'?). Fix: …")`."""
    return CommandError(message, code)


def report(exc: CommandError | Exception, code: int | None = None) -> typer.Exit:
    """Print `exc` as the one error line and return the Exit to raise (for handlers that catch domain errors)."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code if code is not None else getattr(exc, "code", USAGE))


def next_step(text: str) -> None:
    """The one-line hint a state-changing command ends with: "Next: <command or URL>"."""
    typer.echo(f"Next: {text}")


__all__ = ["FAILED", "USAGE", "CommandError", "fail", "next_step", "report"]
