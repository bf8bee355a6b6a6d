"""How every command fails, what it says next, and how its tables fit the screen.

Why one helper: five spellings of "print an error and exit" drifted apart (colour or not, "error:" or not,
exit 1 or 2). A command raises `fail(...)` (or lets a CommandError out); the root group (strangler/cli/app.py)
prints it once as "error: <problem>. Fix: <what to do>" and exits with its code.

Why one table: rich wraps a cell it cannot fit ("/api/product s"), cuts a column to "208…" and renders 80
columns when stdout is not a terminal. `FitTable` sizes itself at render time to the console's width: empty
columns dropped, then optional ones when space is short, nothing wrapped, long values (paths, fields, URLs)
shortened in the middle with "…" — the full value is always in the command's `--json`. The width is
$COLUMNS, else the terminal's, else PIPE_WIDTH.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import typer
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from proxy.common.clock import parse_stamp, utc_now

USAGE = 2   # the command was given something it cannot use (a bad name, option, file or project)
FAILED = 1  # the command ran and the thing it checks or does failed (a gate, a verify, a stack that won't start)
PIPE_WIDTH = 120  # the width when stdout is no terminal and $COLUMNS is unset (rich would use 80)
ELLIPSIS = "…"
SOFT_WIDTH = 32  # a path or note this wide still reads well; below it, optional columns make room first


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


def note(text: str) -> None:
    """A progress or side line on stderr, so stdout stays what the command answers (tables, JSON)."""
    typer.echo(text, err=True)


# ------------------------------------------------------------------------------------------- consoles

def screen_width(stream: Any = None) -> int | None:
    """The width to render for: None lets rich use the terminal or $COLUMNS; a pipe gets PIPE_WIDTH."""
    if os.environ.get("COLUMNS", "").isdigit():
        return None
    stream = stream if stream is not None else sys.stdout
    isatty = getattr(stream, "isatty", None)
    return None if isatty is not None and isatty() else PIPE_WIDTH


def console(*, stderr: bool = False) -> Console:
    """The console every command prints with: no highlighting guesses, a sane width; prose wraps between
    words, tables (FitTable) never wrap."""
    return Console(stderr=stderr, width=screen_width(sys.stderr if stderr else sys.stdout), highlight=False)


# ------------------------------------------------------------------------------------------- cells

def short_time(value: str | datetime | float | None, now: datetime | None = None) -> str:
    """"14:03:07" for today (UTC), "12-05 09:41" for an older moment, "-" for none; the full stamp is in --json."""
    if value is None or value == "":
        return "-"
    try:
        moment = value if isinstance(value, datetime) else (
            parse_stamp(value) if isinstance(value, str) else datetime.fromtimestamp(value, utc_now().tzinfo))
    except (ValueError, OverflowError, OSError):
        return str(value)
    moment = moment.astimezone(utc_now().tzinfo)
    today = (now or utc_now()).date()
    return moment.strftime("%H:%M:%S") if moment.date() == today else moment.strftime("%m-%d %H:%M")


def middle(text: str, width: int) -> str:
    """`text` shortened to `width` cells by cutting its middle ("/api/pro…/items/{id}"): both ends of a path
    or a dotted field name say more than either end alone."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    keep = width - 1
    head, tail = text[: (keep + 1) // 2], text[len(text) - keep // 2:] if keep // 2 else ""
    while cell_len(head) + cell_len(tail) > keep:  # wide characters: drop one at a time, bounded by len
        head = head[:-1] if cell_len(head) >= cell_len(tail) else head
        tail = tail[1:] if cell_len(tail) > cell_len(head) else tail
        if not head and not tail:
            break
    return head + ELLIPSIS + tail


def _plain(cell: str | Text) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _shorten(cell: str | Text, width: int) -> str | Text:
    plain = _plain(cell)
    if cell_len(plain) <= width:
        return cell
    cut = middle(plain, width)
    return Text(cut, style=cell.style) if isinstance(cell, Text) else cut


EMPTY = ("", "-")


# ------------------------------------------------------------------------------------------- tables

@dataclass
class Col:
    """A column: `optional` ones are left out (last first) when the table is too wide; then `squeeze` ones
    shorten (paths, URLs, notes), then the others, `whole` ones (names, numbers) only when nothing else is
    left to shorten. A column empty on every row is left out, unless `keep` (default: the first column)."""

    header: str
    squeeze: bool = False
    justify: Literal["left", "right"] = "left"
    keep: bool | None = None
    whole: bool = False
    optional: bool = False
    min_width: int = 8


class FitTable:
    """A table that fits the console it is printed on (see the module docstring). Build it like rich's:
    `t = FitTable(Col("feature", keep=True), Col("url", squeeze=True), title=...); t.add_row(...)`."""

    def __init__(self, *columns: Col | str, title: str | None = None, caption: str | None = None) -> None:
        self.columns = [c if isinstance(c, Col) else Col(c) for c in columns]
        self.title, self.caption = title, caption
        self.rows: list[list[str | Text]] = []

    def add_row(self, *cells: str | Text | None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells for {len(self.columns)} columns")
        self.rows.append(["" if c is None else c for c in cells])

    def shown_columns(self) -> list[int]:
        """Indexes of the columns worth a place: a column empty on every row is dropped (unless `keep`)."""
        return [i for i, col in enumerate(self.columns)
                if (col.keep if col.keep is not None else i == 0) or not self.rows
                or any(_plain(row[i]).strip() not in EMPTY for row in self.rows)]

    def layout(self, max_width: int) -> tuple[list[int], list[int]]:
        """(shown columns, their widths) fitting `max_width`: squeezable columns shrink to SOFT_WIDTH; if the
        table is still too wide, optional columns go (last first); then squeezable columns shrink further
        (widest first), then the others but `whole`, never below header or min_width; only then does
        anything shrink further."""
        shown = self.shown_columns()
        while True:
            _, excess = self.widths(shown, max_width, ("soft",))
            optional = [i for i in shown if self.columns[i].optional]
            if excess <= 0 or not optional:
                break
            shown.remove(optional[-1])
        return shown, self.widths(shown, max_width, ("squeeze", "other", "any"))[0]

    def widths(self, shown: list[int], max_width: int, stages: tuple[str, ...]) -> tuple[list[int], int]:
        """Each shown column's width after the shrinking `stages`, and the cells still too many."""
        natural = [max([cell_len(self.columns[i].header)] + [cell_len(_plain(r[i])) for r in self.rows])
                   for i in shown]
        widths = list(natural)
        excess = sum(widths) + overhead(len(shown)) - max_width
        for stage in stages:
            if excess <= 0:
                break
            for _ in range(sum(widths)):  # bounded: each pass narrows one column by one cell
                if excess <= 0:
                    break
                candidates = [k for k, i in enumerate(shown) if widths[k] > self._floor(i, natural[k], stage)]
                if not candidates:
                    break
                widest = max(candidates, key=lambda k: widths[k])
                widths[widest] -= 1
                excess -= 1
        return widths, excess

    def _floor(self, index: int, natural: int, stage: str) -> int:
        """How narrow column `index` may get at this stage (its natural width when the stage skips it)."""
        col = self.columns[index]
        if stage == "any":
            return 1
        if stage == "soft":
            return natural if not col.squeeze else min(natural, max(col.min_width, SOFT_WIDTH, cell_len(col.header)))
        if (stage == "squeeze" and not col.squeeze) or (stage == "other" and col.whole):
            return natural
        return min(natural, max(col.min_width, cell_len(col.header)))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        max_width = options.max_width
        shown, widths = self.layout(max_width)
        # title and caption are lines of their own: a table wraps them to its own width, which splits a path
        table = Table(box=box.MINIMAL, show_edge=False, pad_edge=False, collapse_padding=False)  # │ read by plan checks
        for k, i in enumerate(shown):
            col = self.columns[i]
            table.add_column(middle(col.header, widths[k]), justify=col.justify, no_wrap=True,
                             overflow="ellipsis", width=widths[k])
        for row in self.rows:
            table.add_row(*(_shorten(row[i], widths[k]) for k, i in enumerate(shown)))
        if self.title:
            yield Text(middle(self.title, max_width), style="bold", no_wrap=True, overflow="ellipsis")
        yield table
        if self.caption:
            yield Text(middle(self.caption, max_width), no_wrap=True, overflow="ellipsis")


def overhead(columns: int) -> int:
    """Cells a FitTable spends outside its columns: one divider and two padding cells between columns."""
    return 3 * (columns - 1) if columns else 0


def lines_of(renderable: Any, width: int) -> list[str]:
    """`renderable` as plain text lines at `width` columns (tests and transcripts)."""
    cons = Console(width=width, record=True, file=open(os.devnull, "w"), color_system=None,  # noqa: SIM115
                   highlight=False)
    cons.print(renderable)
    text = cons.export_text(styles=False)
    cons.file.close()
    return text.splitlines()


__all__ = ["FAILED", "PIPE_WIDTH", "USAGE", "Col", "CommandError", "FitTable", "console", "fail", "lines_of",
           "middle", "next_step", "note", "report", "screen_width", "short_time"]
