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
    return evidence, problems


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
                    transcript: Path | None = None, stop_on_failure: bool = True) -> RunResult:
    """Run every bash block of `document` in one bash session; the stack is stopped afterwards, whatever happens
    (failure, timeout, KeyboardInterrupt — which is re-raised after the teardown)."""
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
            outcome = session.run(step.code, step.timeout_s)
            evidence, problems = check(step, outcome.status, outcome.output)
            result = StepResult(step, outcome.status, outcome.seconds, outcome.output, evidence, problems)
            results.append(result)
            if log:
                log.write(f"\n===== step {step.number}: {step.title} (line {step.line}) =====\n{step.code}"
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
