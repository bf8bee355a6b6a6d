"""`strangler up / down / status / logs / url`: run the stack described by the stack file."""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from proxy.common.suggest import did_you_mean
from strangler.cli.app import app
from strangler.cli.output import FAILED, USAGE, console, fail, next_step, note
from strangler.procs import log_tail
from strangler.runstate import process_urls, stop_stack
from strangler.secrets import secrets_path
from strangler.settings import KitSettings, get_settings
from strangler.stack import StackConfigError, StackPlan, load_stack, parse_port_overrides, resolve
from strangler.status import collect, processes_table
from strangler.supervisor import StackError, StopRequested, run_foreground, start_detached

StackOpt = Annotated[Path | None, typer.Option(
    "--stack", help="Stack file (default: $STRANGLER_STACK_FILE, else the project's config/stack.yaml).",
    show_default=False)]
PortOpt = Annotated[list[str] | None, typer.Option(
    "--port", "-p", metavar="NAME=PORT",
    help="Override a process's port, e.g. --port legacy=5001 (repeatable; env: STRANGLER_PORT_<NAME>).")]


@contextmanager
def _operator_errors() -> Iterator[None]:
    """Known failures become one clear message and an exit code — never a traceback."""
    try:
        yield
    except StackConfigError as exc:
        raise fail(str(exc), USAGE) from None
    except StopRequested:
        raise fail("interrupted while starting — stopped everything that had started", 130) from None
    except StackError as exc:
        raise fail(str(exc), FAILED) from None


def build_plan(settings: KitSettings, stack: Path | None, names: list[str] | None,
               ports: list[str] | None) -> StackPlan:
    """Load + validate the stack file and resolve it for the selected processes (reusable by `demo`)."""
    loaded = load_stack(stack or settings.stack_file)
    overrides = parse_port_overrides(ports or [], list(loaded.config.processes))
    project = settings.project.root if settings.project else None
    return resolve(loaded, var_dir=settings.var_dir, names=names or [], port_overrides=overrides, project=project)


def print_ready(state: dict[str, Any], footer: str) -> None:
    console().print(processes_table(state, title="Stack is up"))
    console().print(footer, markup=False)


def dashboard_hint(plan: StackPlan) -> str | None:
    """"<dashboard URL> (admin token: …)" when a process runs the façade's admin API; the token itself is
    never printed, only where it is."""
    for proc in plan.processes:
        port = next((arg.split("=", 1)[1] for arg in proc.argv if arg.startswith("strangler_admin_port=")), None)
        if port and port.isdigit() and int(port) > 0:
            host = f"[{proc.host}]" if ":" in proc.host else proc.host
            where = ("STRANGLER_ADMIN_TOKEN in your environment" if os.environ.get("STRANGLER_ADMIN_TOKEN")
                     else f"STRANGLER_ADMIN_TOKEN in {secrets_path(plan.var_dir)}")
            return f"open the dashboard http://{host}:{port}/ui (admin token: {where})"
    return None


def healthy_line(began: float) -> Callable[[str, dict[str, Any]], None]:
    """`up -d` progress: one line per process as it becomes healthy, with the time since `up` began."""
    def show(name: str, proc: dict[str, Any]) -> None:
        note(f"  {name} healthy at {proc.get('url') or '-'} after {time.monotonic() - began:.1f} s")
    return show


def start_stack(settings: KitSettings, *, stack: Path | None = None, names: list[str] | None = None,
                ports: list[str] | None = None, detach: bool = False,
                on_ready: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any] | None:
    """Start the stack; detached returns its state, foreground blocks until Ctrl-C/SIGTERM/`strangler down`."""
    plan = build_plan(settings, stack, names, ports)
    if detach:
        args = ["--stack", str((stack or settings.stack_file).resolve())]
        args += [f"--port={p}" for p in ports or []] + list(names or [])
        note(f"starting {len(plan.processes)} process(es): {', '.join(plan.names)} "
             f"(logs: {plan.var_dir / 'logs'})")
        state = start_detached(plan, args, on_healthy=healthy_line(time.monotonic()))
        (on_ready or (lambda s: print_ready(s, "Stop it with `strangler down`; logs: `strangler logs NAME`.")))(
            state)
        if on_ready is None:
            next_step(dashboard_hint(plan) or "strangler status")
        return state
    def ready(state: dict[str, Any]) -> None:
        print_ready(state, "Supervising — press Ctrl-C (or run `strangler down`) to stop.")
        next_step(dashboard_hint(plan) or "strangler status   (from another shell)")

    run_foreground(plan, on_ready=on_ready or ready)
    return None


@app.command()
def up(
    names: Annotated[list[str] | None, typer.Argument(
        help="Processes to start (default: all in the stack file, in file order).", show_default=False)] = None,
    stack: StackOpt = None,
    port: PortOpt = None,
    detach: Annotated[bool, typer.Option(
        "--detach", "-d", help="Run the supervisor in the background (log: var/logs/supervisor.log) and return "
        "once every process is healthy (exit 0) or one failed (exit 1).")] = False,
) -> None:
    """Start the stack: run each process's setup, start it, wait for its health check, then supervise.

    Runs in the foreground until Ctrl-C, unless --detach.
    Logs go to var/logs/<name>.log; `strangler status` and `strangler down` find the stack through var/run/.
    """
    with _operator_errors():
        start_stack(get_settings(), stack=stack, names=names, ports=port, detach=detach)


@app.command()
def down(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a clean stop before killing.")] = 30.0,
) -> None:
    """Stop the running stack (every process, in reverse start order) and wait until all are gone."""
    with _operator_errors():
        done = stop_stack(get_settings().var_dir, timeout=timeout)
    console().print("\n".join(done) if done else "Nothing is running.", markup=False)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object keyed by section.")] = False,
) -> None:
    """Show the stack's processes with a live health check, plus every registered status section.

    Tables fit the screen ($COLUMNS, else the terminal, else 120 columns): empty columns are left out and
    long values shortened in the middle with "…"; --json has every value whole."""
    settings = get_settings()
    settings.var_dir  # noqa: B018 - outside a project (and without STRANGLER_VAR_DIR): exit 2 before any section
    results = collect(settings)
    if as_json:
        typer.echo(json.dumps({name: data for name, _, data in results}, indent=2, default=str))
        return
    for _, renderable, _ in results:
        console().print(renderable)


@app.command()
def url(name: Annotated[str, typer.Argument(help="Process name, e.g. facade.")]) -> None:
    """Print the base URL of a stack process, for scripts: curl "$(strangler url facade)/api/...".

    Every kit command that takes a URL also takes the process name itself (e.g. `--host facade`)."""
    urls = process_urls(get_settings().var_dir)
    if name not in urls:
        raise fail(f"no stack process named {name!r}{did_you_mean(name, urls)}. Fix: use one of: "
                   f"{', '.join(sorted(urls)) or 'none — start the stack with `strangler up -d`'}", FAILED)
    typer.echo(urls[name])


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Process name (or 'supervisor').")],
    lines: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many lines from the end.")] = 50,
) -> None:
    """Print the last lines of a process's log (var/logs/<name>.log)."""
    log_dir = get_settings().log_dir
    path = log_dir / f"{name}.log"
    if not path.is_file():
        known = sorted(p.stem for p in log_dir.glob("*.log")) if log_dir.is_dir() else []
        raise fail(f"no log for {name!r} in {log_dir}{did_you_mean(name, known)}. Fix: use one of: "
                   f"{', '.join(known) or 'none yet (run `strangler up`)'}", FAILED)
    typer.echo(log_tail(path, lines))
