"""`strangler export nginx`: render the route table as nginx configuration (production-scale data plane).

The façade stays the reference implementation; the exported config reproduces its routing (see
strangler/export/nginx.py for what is exact and what is approximated). Re-export after every flip.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from proxy.table import TableError, load_table
from strangler.cli.app import app
from strangler.cli.output import fail, next_step, note
from strangler.export.nginx import ExportError, NginxOptions, render
from strangler.settings import get_settings

export_app = typer.Typer(help="Export the route table to another data plane (nginx).", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("nginx")
def export_nginx(
    routes: Annotated[Path | None, typer.Option(
        "--routes", help="Route table (default: the project's live table var/routes.yaml).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    listen: Annotated[str, typer.Option("--listen", help="Loopback HOST:PORT nginx listens on.")] = "127.0.0.1:8088",
    comparator: Annotated[str | None, typer.Option(
        "--comparator", help="Loopback URL of `python -m proxy.comparator` (needed when a feature shadows).")] = None,
    standalone: Annotated[bool, typer.Option(
        "--standalone", help="A complete nginx.conf (paths relative to `nginx -p DIR`) instead of an http{} include.")]
        = False,
) -> None:
    """Render the route table as nginx configuration: same routes, states, cohorts and headers as the façade."""
    path = routes or get_settings().routes_path()
    try:
        text = render(load_table(path), NginxOptions(listen=listen, comparator=comparator, standalone=standalone,
                                                     source=str(path)))
    except (TableError, ExportError) as exc:
        raise fail(str(exc)) from None
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if standalone:
        (out.parent / "tmp").mkdir(exist_ok=True)
    note(f"wrote {out} ({len(text.splitlines())} lines)")
    next_step(f"nginx -t -p {out.parent} -c {out.name}   (re-export after every flip)")
