"""Parse migration_plan.md into steps: each fenced ```bash block plus the checks written right after it.

Checks are HTML comments (invisible when the Markdown is rendered) directly after the block:
  <!-- expect: REGEX -->       the block's output must match (re.MULTILINE), one comment per check
  <!-- expect-not: REGEX -->   the output must NOT match
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
_DIRECTIVE = re.compile(r"^<!--\s*(expect-not|expect|timeout)\s*:\s*(.*?)\s*-->\s*$")


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
    timeout_s: float = DEFAULT_TIMEOUT_S


def parse_document(path: Path) -> list[Step]:
    lines = path.read_text(encoding="utf-8").splitlines()
    steps: list[Step] = []
    title, i = "", 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        if heading:
            title = heading.group(2)
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
        step = Step(len(steps) + 1, title, start, "\n".join(body) + "\n")
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
    return steps


def _add(step: Step, kind: str, value: str, where: str) -> None:
    if kind == "timeout":
        try:
            step.timeout_s = float(value)
        except ValueError:
            raise DocumentError(f"{where}: timeout {value!r} is not a number of seconds") from None
        return
    try:
        re.compile(value)
    except re.error as exc:
        raise DocumentError(f"{where}: {kind} pattern {value!r} is not a valid regex ({exc})") from None
    (step.expect if kind == "expect" else step.expect_not).append(value)
