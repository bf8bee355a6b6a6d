"""Parse migration_plan.md into steps: each fenced ```bash block plus the checks written right after it.

Checks are HTML comments (invisible when the Markdown is rendered) directly after the block:
  <!-- expect: REGEX -->       the block's output must match (re.MULTILINE), one comment per check
  <!-- expect-not: REGEX -->   the output must NOT match
  <!-- expect-ratio: REGEX <= LIMIT -->  REGEX (named groups `part` and `whole`) must match, and part/whole
                               must be at most LIMIT (a fraction): a tolerance said out loud, e.g. shadow
                               errors over comparisons on a busy machine, instead of a flaky "= 0"
  <!-- timeout: SECONDS -->    bound for this block (default 180 s)
A block's exit status must be 0: any failing command in it fails the step (write `! cmd` or `cmd || true`
for a command whose refusal is the point).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TIMEOUT_S = 180.0
_FENCE = re.compile(r"^```(\w*)\s*$")
_HEADING = re.compile(r"^(#{1,4})\s+(.*\S)\s*$")
_DIRECTIVE = re.compile(r"^<!--\s*(expect-not|expect-ratio|expect|timeout)\s*:\s*(.*?)\s*-->\s*$")
_NUMBERED = re.compile(r"^(\d+)\.\s+(.*\S)$")   # "9. Orders: data, shadow, canary"
_RATIO = re.compile(r"^(.*\S)\s+(?:<=|≤)\s*([0-9]*\.?[0-9]+)$")


class DocumentError(ValueError):
    """The document cannot be run as written (named with file and line)."""


@dataclass
class Step:
    number: int
    title: str            # the nearest heading above the block
    line: int             # 1-based line of the opening fence
    code: str
    expect: list[str] = field(default_factory=list)
    expect_not: list[str] = field(default_factory=list)
    expect_ratio: list[tuple[str, float]] = field(default_factory=list)   # (pattern with part/whole, limit)
    timeout_s: float = DEFAULT_TIMEOUT_S
    section: str = ""     # the document's own number of the nearest numbered heading ("9"), "" before any
    sections: str = ""    # the last section number of the document ("11")
    part: int = 1         # this block's place among its section's blocks
    parts: int = 1

    @property
    def progress(self) -> str:
        """How the reader counts it: "9/11 Orders: data, shadow, canary (2 of 2)" — the document's numbering,
        not the block count (a section may have several blocks)."""
        numbered = _NUMBERED.match(self.title)
        name = numbered.group(2) if numbered else self.title
        where = f"{self.section}/{self.sections} " if self.section and self.sections else f"{self.number}. "
        return where + name + (f" ({self.part} of {self.parts})" if self.parts > 1 else "")


def parse_document(path: Path) -> list[Step]:
    lines = path.read_text(encoding="utf-8").splitlines()
    steps: list[Step] = []
    title, section, i = "", "", 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        if heading:
            title = heading.group(2)
            numbered = _NUMBERED.match(title)
            section = numbered.group(1) if numbered else section
        fence = _FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        start, lang, body = i + 1, fence.group(1), []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise DocumentError(f"{path}:{start}: code block is never closed — add a ``` line")
        i += 1
        if lang != "bash":
            continue  # yaml/text examples are for reading, not running
        step = Step(len(steps) + 1, title, start, "\n".join(body) + "\n", section=section)
        while i < len(lines) and (lines[i].strip() == "" or _DIRECTIVE.match(lines[i])):
            directive = _DIRECTIVE.match(lines[i])
            if directive:
                _add(step, directive.group(1), directive.group(2), f"{path}:{i + 1}")
            elif i + 1 < len(lines) and not _DIRECTIVE.match(lines[i + 1]):
                break  # a blank line not followed by another directive ends the checks
            i += 1
        steps.append(step)
    if not steps:
        raise DocumentError(f"{path}: no ```bash blocks to run")
    _number_parts(steps)
    return steps


def _number_parts(steps: list[Step]) -> None:
    last = max((int(s.section) for s in steps if s.section), default=None)
    for step in steps:
        same = [s for s in steps if s.section == step.section and s.title == step.title]
        step.sections = "" if last is None else str(last)
        step.part, step.parts = same.index(step) + 1, len(same)


def _add(step: Step, kind: str, value: str, where: str) -> None:
    if kind == "timeout":
        try:
            step.timeout_s = float(value)
        except ValueError:
            raise DocumentError(f"{where}: timeout {value!r} is not a number of seconds") from None
        return
    if kind == "expect-ratio":
        ratio = _RATIO.match(value)
        if ratio is None:
            raise DocumentError(f"{where}: expect-ratio {value!r} does not end with '<= LIMIT'. Fix: write "
                                "<!-- expect-ratio: REGEX <= 0.02 -->")
        value, limit = ratio.group(1), float(ratio.group(2))
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise DocumentError(f"{where}: {kind} pattern {value!r} is not a valid regex ({exc})") from None
    if kind == "expect-ratio":
        if not {"part", "whole"} <= set(compiled.groupindex):
            raise DocumentError(f"{where}: expect-ratio pattern {value!r} needs the named groups (?P<part>…) and "
                                "(?P<whole>…). Fix: name the two numbers it compares")
        step.expect_ratio.append((value, limit))
        return
    (step.expect if kind == "expect" else step.expect_not).append(value)
