"""`strangler init DIR --legacy "COMMAND WITH {port}"`: a project folder for your own monolith that
`strangler up -d` runs with no edit — every route still served by legacy, behind the façade.

Everything is discovered and validated before the first file is written, so a bad option writes nothing;
files that already exist are kept (listed as skipped) unless --force, so re-running never loses an edit.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from load.mix import MixEntry
from proxy.common.files import atomic_write as _atomic_write
from proxy.table import TableError, parse_table
from strangler.cli.app import app
from strangler.cli.output import fail
from strangler.footprint.config import FootprintConfig
from strangler.procs import free_port
from strangler.scaffold.discover import Discovery, ScaffoldError, app_python, read_flask, read_openapi
from strangler.scaffold.generate import Plan, files, parse_command
from strangler.stack import StackConfig


def _free_ports(names: tuple[str, ...]) -> dict[str, int]:
    return {name: free_port() for name in names}  # free_port never repeats a port within one process


def _legacy_cwd(root: Path, here: Path) -> str | None:
    """Where the legacy command runs: the folder init ran in (the user typed the command for it)."""
    if here == root:
        return None
    if here.is_relative_to(root):
        return "{project}/" + here.relative_to(root).as_posix()
    return str(here)


def _check(rendered: dict[str, str]) -> None:
    """The kit's own validators on what init is about to write (a failure here is a bug of init's)."""
    try:
        parse_table(rendered["config/routes.yaml"], source="config/routes.yaml")
        StackConfig.model_validate(yaml.safe_load(rendered["config/stack.yaml"]))
        FootprintConfig.model_validate(yaml.safe_load(rendered["config/footprint.yaml"]))
        for entry in yaml.safe_load(rendered["config/load-mix.yaml"])["mixes"]["read"]:
            MixEntry.model_validate(entry)
    except (TableError, ValueError) as exc:
        raise ScaffoldError(f"init produced an invalid file ({str(exc).splitlines()[0]}). Fix: report this; "
                            "meanwhile pass fewer options (e.g. no --flask-app)") from None


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Project folder to create (your repo, say).")],
    legacy: Annotated[str, typer.Option("--legacy", metavar="COMMAND",
                                        help="Command that starts your app, binding {port}, e.g. "
                                             "\"gunicorn -b 127.0.0.1:{port} wsgi:app\".")],
    health: Annotated[str, typer.Option(help="Path of the app that answers < 500 when it is up.")] = "/",
    flask_app: Annotated[str | None, typer.Option("--flask-app", metavar="MODULE:VAR",
                                                  help="Read features (blueprints) from this app's url_map.")] = None,
    python: Annotated[str | None, typer.Option(
        "--python", metavar="PATH", help="The app's interpreter for --flask-app. Default: the python next to "
                                         "the --legacy command's executable, else python3.")] = None,
    openapi: Annotated[str | None, typer.Option("--openapi", metavar="URL-OR-FILE",
                                                help="Read features (first tag) from an OpenAPI document.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist.")] = False,
) -> None:
    """Create a project for your own monolith: stack, route table, load mix and footprint guesses."""
    root, here = directory.expanduser().resolve(), Path.cwd().resolve()
    try:
        if flask_app and openapi:
            raise ScaffoldError("give --flask-app or --openapi, not both. Fix: drop one")
        if not health.startswith("/"):
            raise ScaffoldError(f"--health {health!r} is not a path. Fix: write it like /healthz")
        argv = parse_command(legacy)
        if flask_app:
            found = read_flask(flask_app, app_python(argv, python), here)
        elif openapi:
            found = read_openapi(openapi)
        else:
            found = Discovery("nothing (no --flask-app or --openapi)")
        plan = Plan(root=root, name=root.name, legacy=argv, legacy_cwd=_legacy_cwd(root, here), health=health,
                    ports=_free_ports(("legacy", "facade", "admin")), found=found)
        rendered = files(plan)
        _check(rendered)
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    written, skipped = [], []
    for rel, text in rendered.items():
        target = root / rel
        if target.exists() and not force:
            skipped.append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(target, text)
        written.append(rel)
    _report(plan, written, skipped, here)


def _report(plan: Plan, written: list[str], skipped: list[str], here: Path) -> None:
    found = plan.found
    typer.echo(f"Read {found.source}.")
    if found.features:
        typer.echo(f"Proposed features ({len(found.features)}, all in state legacy, no target yet):")
        for name, routes in found.features.items():
            tables = ", ".join(found.tables.get(name, [])) or "none"
            typer.echo(f"  {name}: {sum(len(r.methods) for r in routes)} method+path routes in {len(routes)} "
                       f"templates (e.g. {routes[0].path}); tables (guess): {tables}")
    if found.legacy_only:
        typer.echo(f"Routes of no module, always served by legacy: {', '.join(found.legacy_only[:8])}")
    for skipped_route in found.skipped:
        typer.echo(f"Skipped route {skipped_route}")
    if written:
        typer.echo(f"Wrote in {plan.root}: {', '.join(written)}")
    if skipped:
        typer.echo(f"Kept (exist already; --force overwrites): {', '.join(skipped)}")
    get = next((r.path for routes in found.features.values() for r in routes
                if "GET" in r.methods and not r.params), plan.health)
    typer.echo("Next:" if here == plan.root else f"Next (in {plan.root}: cd there, or pass --project):")
    typer.echo("  strangler up -d")
    typer.echo(f"  curl \"$(strangler url facade){get}\"     # served by legacy, through the façade")
    typer.echo("  strangler add service NAME --command \"... {port} ...\" --health /healthz   # your first service")
