"""`strangler demo`: run migration_plan.md end to end on the embedded default, with its evidence checked.

The document is the program: each step's bash block runs in one bash session, its `<!-- expect -->` checks
decide pass/fail, and the stack is always stopped at the end (also on failure or Ctrl-C). The demo is the
project at the kit checkout's root, whatever the current directory or $STRANGLER_PROJECT; it uses its own var
dir (var/demo, wiped at start; the transcript is kept in it), so it never touches a stack of yours."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from strangler.cli.app import app
from strangler.cli.output import fail, next_step
from strangler.procs import port_in_use
from strangler.project import ENV as PROJECT_ENV
from strangler.project import KIT_DIR, ProjectError, demo_project
from strangler.stack import load_stack, port_env_name
from strangler.walkthrough import StepResult, run_walkthrough
from strangler.walkthrough.document import DocumentError, Step

out = Console(highlight=False, soft_wrap=True)
ADMIN_PORT_ENV = "STRANGLER_ADMIN_PORT"


def busy_ports(stack_file: Path, environ: dict[str, str]) -> list[str]:
    """One line per port the demo needs that something already listens on, with the variable that moves it."""
    loaded = load_stack(stack_file)
    problems = []
    wanted = {name: (int(environ.get(port_env_name(name)) or spec.port), port_env_name(name))
              for name, spec in loaded.config.processes.items()}
    wanted["admin API"] = (int(environ.get(ADMIN_PORT_ENV) or 8081), ADMIN_PORT_ENV)
    for name, (port, variable) in wanted.items():
        if port_in_use(port, "127.0.0.1"):
            problems.append(f"port {port} ({name}) is already in use — stop what uses it, or move the demo: "
                            f"{variable}={port + 1000} strangler demo")
    return problems


def _start(step: Step, total: int) -> None:
    out.rule(f"[bold]{step.progress}[/]", align="left")
    for line in step.code.rstrip().splitlines():
        out.print(f"  $ {line}" if line and not line.startswith(" ") else f"    {line}", markup=False)


def _tick(step: Step, elapsed: float, last: str) -> None:
    """A live line while a long step runs: its time so far, and the last thing it printed."""
    now = f"  … {elapsed:.0f}s in step {step.section or step.number}"
    out.print(now + (f" — {last[:100]}" if last else ""), markup=False, style="dim")


def _done(result: StepResult) -> None:
    for line in result.evidence:
        out.print(f"  [green]✓[/] {line}" if len(line) < 200 else f"  [green]✓[/] {line[:200]}…",
                  markup=True, highlight=False)
    state = "[green]ok[/]" if result.ok else "[red]FAILED[/]"
    out.print(f"  {state} in {result.seconds:.1f}s")
    if not result.ok:
        for problem in result.problems:
            out.print(f"  [red]✗ {problem}[/]")
        tail = result.output.rstrip().splitlines()[-40:]
        out.print("  last output lines:\n" + "\n".join("    | " + line for line in tail), markup=False)


@app.command()
def demo(
    document: Annotated[Path, typer.Option(help="The walkthrough to run.")] = KIT_DIR / "migration_plan.md",
    var_dir: Annotated[Path, typer.Option("--var-dir", help="Runtime dir of the demo (wiped at start).")] =
        KIT_DIR / "var" / "demo",
    keep_going: Annotated[bool, typer.Option(help="Run the remaining steps after a failed one.")] = False,
    tick: Annotated[float, typer.Option(help="Seconds between the live lines of a running step.", min=1)] = 5.0,
) -> None:
    """The kit's main job: migrate the demo monolith (catalog, then orders) by running migration_plan.md,
    checking every step's evidence; the stack is stopped at the end. Exit 1 if any evidence is wrong."""
    started = time.monotonic()
    environ = dict(os.environ)
    try:
        project = demo_project()
    except ProjectError as exc:
        raise fail(str(exc)) from None
    try:
        busy = busy_ports(project.stack_file, environ)
    except Exception as exc:  # noqa: BLE001 - a broken stack file is reported by `strangler up` too; say it once here
        raise fail(f"cannot read {project.stack_file}: {exc}. Fix: `strangler up` names the problem") from None
    if busy:
        raise fail("the demo needs these ports:\n  " + "\n  ".join(busy))
    var_dir = var_dir.resolve()
    if var_dir.exists():
        shutil.rmtree(var_dir)
    var_dir.mkdir(parents=True)
    transcript = var_dir / "transcript.log"
    out.print(f"Running {document.name} — var dir {var_dir}, full transcript {transcript}")
    try:
        result = run_walkthrough(document, root=project.root,
                                 env={"STRANGLER_VAR_DIR": str(var_dir), PROJECT_ENV: str(project.root)},
                                 on_step_start=_start, on_step_done=_done, transcript=transcript,
                                 stop_on_failure=not keep_going, on_tick=_tick, tick_s=tick)
    except DocumentError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        out.print(f"\ninterrupted — the stack was stopped; wall time {time.monotonic() - started:.0f}s")
        raise typer.Exit(130) from None
    out.rule()
    out.print(f"stack stopped: {result.teardown.splitlines()[-1] if result.teardown else 'nothing was running'}",
              markup=False)
    passed = sum(1 for s in result.steps if s.ok)
    verdict = "[green]PASSED[/]" if result.ok else "[red]FAILED[/]"
    out.print(f"{verdict}: {passed}/{result.total_steps} blocks of {document.name} with their evidence; "
              f"total wall time {time.monotonic() - started:.0f}s")
    if not result.ok:
        next_step(f"each step's full output is in {transcript}; fix what it names, then `strangler demo` again")
        raise typer.Exit(1)
    next_step("the same on your own monolith: docs/own-monolith.md")
