"""Run the walkthrough document step by step, check each step's evidence, always leave the stack stopped."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from strangler.walkthrough.document import Step, parse_document
from strangler.walkthrough.session import BashSession

# Wide, plain output: rich tables do not wrap cells, regexes see one row per line, no colour codes.
_PLAIN_ENV = {"COLUMNS": "220", "TERM": "dumb", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}


@dataclass
class StepResult:
    step: Step
    status: int | None
    seconds: float
    output: str
    evidence: list[str] = field(default_factory=list)   # the output lines that satisfied each expectation
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class RunResult:
    steps: list[StepResult]
    total_steps: int
    seconds: float
    teardown: str

    @property
    def ok(self) -> bool:
        return len(self.steps) == self.total_steps and all(s.ok for s in self.steps)

    def failure_report(self, tail: int = 30) -> str:
        """Each failed step with its problems and the last `tail` lines of its output ('' when none failed)."""
        return "\n".join(f"step {s.step.number} ({s.step.title}, line {s.step.line}): {'; '.join(s.problems)}\n"
                         + "\n".join("  | " + line for line in s.output.rstrip().splitlines()[-tail:])
                         for s in self.steps if not s.ok)


def check(step: Step, status: int | None, output: str) -> tuple[list[str], list[str]]:
    """(evidence lines, problems) for one block's outcome."""
    problems: list[str] = []
    evidence: list[str] = []
    if status is None:
        problems.append(f"did not finish within {step.timeout_s:g}s")
    elif status != 0:
        problems.append(f"a command exited with status {status}")
    for pattern in step.expect:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            problems.append(f"expected output matching /{pattern}/ — not found")
        else:
            start = output.rfind("\n", 0, match.start()) + 1
            end = output.find("\n", match.end())
            evidence.append(output[start:end if end >= 0 else None].strip())
    for pattern in step.expect_not:
        match = re.search(pattern, output, re.MULTILINE)
        if match is not None:
            problems.append(f"output must not match /{pattern}/ — found {match.group(0)!r}")
    for pattern, limit in step.expect_ratio:
        line, problem = _ratio(pattern, limit, output)
        if line:
            evidence.append(line)
        if problem:
            problems.append(problem)
    return evidence, problems


def _ratio(pattern: str, limit: float, output: str) -> tuple[str, str]:
    """(evidence line, problem) of one expect-ratio: the first match's part/whole must be at most `limit`."""
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        return "", f"expected output matching /{pattern}/ — not found"
    part, whole = int(match.group("part")), int(match.group("whole"))
    start = output.rfind("\n", 0, match.start()) + 1
    end = output.find("\n", match.end())
    line = output[start:end if end >= 0 else None].strip()
    ratio = part / whole if whole else (0.0 if part == 0 else float("inf"))
    said = f"{line}  [{part}/{whole} = {ratio:.1%} ≤ {limit:.1%}]"
    if ratio > limit:
        return "", f"{part}/{whole} = {ratio:.1%} is over the tolerated {limit:.1%} (/{pattern}/): {line}"
    return said, ""


def session_env(root: Path, extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **_PLAIN_ENV, **extra}
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")  # `strangler` of this interpreter comes first
    return env


def teardown(root: Path, env: Mapping[str, str]) -> str:
    """`strangler down` in the walkthrough's environment (its var dir), run where the document's shell was
    last (a guide that `cd`s into its project is torn down there); never raises."""
    try:
        done = subprocess.run([sys.executable, "-m", "strangler", "down"], cwd=root, env=dict(env),
                              capture_output=True, text=True, timeout=90)
        return (done.stdout + done.stderr).strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"teardown failed: {exc} — run `STRANGLER_VAR_DIR={env.get('STRANGLER_VAR_DIR', 'var')} strangler down`"


def run_walkthrough(document: Path, *, root: Path, env: Mapping[str, str],
                    on_step_start: Callable[[Step, int], None] | None = None,
                    on_step_done: Callable[[StepResult], None] | None = None,
                    transcript: Path | None = None, stop_on_failure: bool = True,
                    on_tick: Callable[[Step, float, str], None] | None = None, tick_s: float = 5.0) -> RunResult:
    """Run every bash block of `document` in one bash session; the stack is stopped afterwards, whatever happens
    (failure, timeout, KeyboardInterrupt — which is re-raised after the teardown). `on_tick(step, elapsed,
    last output line)` is called every `tick_s` while a block runs (progress for a long step)."""
    steps = parse_document(document)
    full_env = session_env(root, env)
    results: list[StepResult] = []
    started = time.monotonic()
    session = BashSession(full_env, root)
    log = transcript.open("w", encoding="utf-8") if transcript else None
    try:
        for step in steps:
            if on_step_start:
                on_step_start(step, len(steps))
            tick = (lambda elapsed, last, step=step: on_tick(step, elapsed, last)) if on_tick else None
            outcome = session.run(step.code, step.timeout_s, on_tick=tick, tick_s=tick_s)
            evidence, problems = check(step, outcome.status, outcome.output)
            result = StepResult(step, outcome.status, outcome.seconds, outcome.output, evidence, problems)
            results.append(result)
            if log:
                log.write(f"\n===== step {step.progress} (block {step.number}, line {step.line}) =====\n{step.code}"
                          f"----- output ({outcome.seconds:.1f}s, status {outcome.status}) -----\n{outcome.output}"
                          + "".join(f"!! {p}\n" for p in problems))
                log.flush()
            if on_step_done:
                on_step_done(result)
            if problems and (stop_on_failure or not session.alive):
                break
    finally:
        session.close()
        down = teardown(session.cwd, full_env)
        if log:
            log.write(f"\n===== teardown =====\n{down}\n")
            log.close()
    return RunResult(results, len(steps), time.monotonic() - started, down)
