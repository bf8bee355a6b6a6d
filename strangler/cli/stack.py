"""`strangler up / down / status / logs / url`: run the stack described by the stack file."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from strangler.cli.app import app
from strangler.procs import log_tail
from strangler.settings import KitSettings, get_settings
from strangler.stack import StackConfigError, StackPlan, load_stack, parse_port_overrides, resolve
from strangler.status import collect, processes_table
from strangler.runstate import process_urls, stop_stack
from strangler.supervisor import StackError, StopRequested, run_foreground, start_detached

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except StopRequested:
        err.print("interrupted while starting — stopped everything that had started", markup=False)
        raise typer.Exit(130) from None
    except StackError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(1) from None


def build_plan(settings: KitSettings, stack: Path | None, names: list[str] | None,
               ports: list[str] | None) -> StackPlan:
    """Load + validate the stack file and resolve it for the selected processes (reusable by `demo`)."""
    loaded = load_stack(stack or settings.stack_file)
    overrides = parse_port_overrides(ports or [], list(loaded.config.processes))
    project = settings.project.root if settings.project else None
    return resolve(loaded, var_dir=settings.var_dir, names=names or [], port_overrides=overrides, project=project)


def print_ready(state: dict[str, Any], footer: str) -> None:
    out.print(processes_table(state, title="Stack is up"))
    out.print(footer, markup=False)


def start_stack(settings: KitSettings, *, stack: Path | None = None, names: list[str] | None = None,
                ports: list[str] | None = None, detach: bool = False,
                on_ready: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any] | None:
    """Start the stack; detached returns its state, foreground blocks until Ctrl-C/SIGTERM/`strangler down`."""
    plan = build_plan(settings, stack, names, ports)
    if detach:
        args = ["--stack", str((stack or settings.stack_file).resolve())]
        args += [f"--port={p}" for p in ports or []] + list(names or [])
        state = start_detached(plan, args)
        (on_ready or (lambda s: print_ready(s, "Stop it with `strangler down`; logs: `strangler logs NAME`.")))(
            state)
        return state
    run_foreground(plan, on_ready=on_ready or (
        lambda s: print_ready(s, "Supervising — press Ctrl-C (or run `strangler down`) to stop.")))
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
    out.print("\n".join(done) if done else "Nothing is running.", markup=False)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object keyed by section.")] = False,
) -> None:
    """Show the stack's processes with a live health check, plus every registered status section."""
    settings = get_settings()
    settings.var_dir  # noqa: B018 - outside a project (and without STRANGLER_VAR_DIR): exit 2 before any section
    results = collect(settings)
    if as_json:
        typer.echo(json.dumps({name: data for name, _, data in results}, indent=2, default=str))
        return
    for _, renderable, _ in results:
        out.print(renderable)


@app.command()
def url(name: Annotated[str, typer.Argument(help="Process name, e.g. facade.")]) -> None:
    """Print the base URL of a stack process, for scripts: curl "$(strangler url facade)/api/...".

    Every kit command that takes a URL also takes the process name itself (e.g. `--host facade`)."""
    urls = process_urls(get_settings().var_dir)
    if name not in urls:
        known = ", ".join(sorted(urls)) or "none — run `strangler up -d`"
        err.print(f"error: no stack process named {name!r} (known: {known})", markup=False)
        raise typer.Exit(1)
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
        err.print(f"error: no log for {name!r} in {log_dir} — known: {', '.join(known) or 'none yet (run `strangler up`)'}",
                  markup=False)
        raise typer.Exit(1)
    typer.echo(log_tail(path, lines))
