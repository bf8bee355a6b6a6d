"""`strangler routes | routes check | flip | ledger`: read, validate and change the route table.

All writes go through proxy.flips.flip_feature (the same code the admin API uses), so the CLI and a running
façade can never disagree about what a flip means; the façade hot-reloads the file by itself.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from proxy.flips import FlipError, default_actor, flip_feature, registered_gates
from proxy.ledger import default_ledger_path, read_records
from proxy.table import RouteTable, State, TableError, load_table
from strangler.cli.app import app
from strangler.settings import KitSettings, get_settings, init_routes

routes_app = typer.Typer(help="Show the route table (features, states, upstreams) or check a table file.",
                         invoke_without_command=True, no_args_is_help=False)
app.add_typer(routes_app, name="routes")

RoutesOpt = Annotated[Path | None, typer.Option(
    "--routes", help="Route table file (default: $STRANGLER_ROUTES_FILE, else the live table var/routes.yaml, created from config/routes.yaml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

_STATE_STYLE = {State.LEGACY: "white", State.SHADOW: "cyan", State.CANARY: "yellow", State.NEW: "green",
                State.RETIRED: "magenta"}


def _out() -> Console:
    return Console(soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True)


def _routes_path(option: Path | None) -> Path:
    return option if option is not None else get_settings().routes_path()


def _load_or_exit(path: Path, as_json: bool) -> RouteTable:
    try:
        return load_table(path)
    except TableError as exc:
        _fail(str(exc), as_json, errors=_issues(exc))
        raise  # unreachable: _fail exits


def _fail(message: str, as_json: bool, **extra: Any) -> None:
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": message, **extra}, indent=2))
    else:
        _err().print(Text(message, style="red"))
    raise typer.Exit(1)


def _issues(exc: TableError) -> list[dict[str, Any]]:
    return [{"file": exc.file, "line": i.line, "problem": i.problem, "fix": i.fix} for i in exc.issues]


def _percent(state: State, pct: float) -> str:
    return f"{pct:g}%" if state is State.CANARY else "-"


def table_summary(table: RouteTable, path: Path) -> dict[str, Any]:
    """The JSON shape of `strangler routes --json` (and of the status section)."""
    return {
        "file": str(path),
        "default": table.default,
        "upstreams": {name: {"url": up.url, "health": up.health, "dry_run_writes": up.dry_run_writes}
                      for name, up in table.upstreams.items()},
        "features": {name: {"state": f.state.value,
                            "canary_percent": f.canary_percent if f.state is State.CANARY else None,
                            "target": f.target, "target_url": table.upstreams[f.target].url,
                            "routes": len(f.routes),
                            "route_list": [{"methods": r.methods, "path": r.path} for r in f.routes]}
                     for name, f in table.features.items()},
    }


def render_table(table: RouteTable, path: Path) -> RenderableType:
    features = Table(title=f"Features — {path}")
    for column in ("feature", "state", "canary", "target", "routes"):
        features.add_column(column)
    for name, feat in table.features.items():
        features.add_row(name, Text(feat.state.value, style=_STATE_STYLE[feat.state]),
                         _percent(feat.state, feat.canary_percent),
                         f"{feat.target} ({table.upstreams[feat.target].url})", str(len(feat.routes)))
    if not table.features:
        features.add_row("(no features: everything goes to the default)", "", "", "", "")
    upstreams = Table(title="Upstreams")
    for column in ("upstream", "url", "health", "dry-run writes"):
        upstreams.add_column(column)
    for name, up in table.upstreams.items():
        label = f"{name} (default)" if name == table.default else name
        upstreams.add_row(label, up.url, up.health or "-", "yes" if up.dry_run_writes else "no")
    return Group(features, upstreams)


@routes_app.callback()
def routes(ctx: typer.Context, routes_file: RoutesOpt = None, as_json: JsonOpt = False) -> None:
    """Features with state, canary %, target and route count, plus the upstreams."""
    ctx.obj = {"routes": routes_file}
    if ctx.invoked_subcommand is not None:
        return
    path = _routes_path(routes_file)
    table = _load_or_exit(path, as_json)
    if as_json:
        typer.echo(json.dumps(table_summary(table, path), indent=2))
    else:
        _out().print(render_table(table, path))


@routes_app.command("init")
def init(force: Annotated[bool, typer.Option("--force", help="Overwrite the live table with the template.")] = False,
         ) -> None:
    """Create the live route table (var/routes.yaml, or $STRANGLER_ROUTES_FILE) from the template
    config/routes.yaml, unless it already exists. Flips edit the live table; the template stays as shipped."""
    settings = get_settings()
    live = settings.routes_file or settings.var_dir / "routes.yaml"
    if not settings.routes_template.is_file():
        _err().print(f"error: no template at {settings.routes_template} (set STRANGLER_ROUTES_TEMPLATE)", markup=False)
        raise typer.Exit(1)
    if init_routes(settings.routes_template, live, force=force):
        _out().print(f"created {live} from {settings.routes_template}", markup=False)
    else:
        _out().print(f"{live} exists; kept it (use --force to start again from the template)", markup=False)


@routes_app.command("check")
def check(ctx: typer.Context,
          file: Annotated[Path | None, typer.Argument(help="Table to validate (default: the routes file).")] = None,
          as_json: JsonOpt = False) -> None:
    """Validate a route table; exit 1 with file:line: problem. Fix: ... for each error."""
    path = file or _routes_path((ctx.obj or {}).get("routes"))
    table = _load_or_exit(path, as_json)
    routes_count = sum(len(f.routes) for f in table.features.values())
    if as_json:
        typer.echo(json.dumps({"ok": True, "file": str(path), "features": len(table.features),
                               "routes": routes_count}, indent=2))
    else:
        _out().print(Text(f"{path}: OK — {len(table.features)} features, {routes_count} routes, "
                          f"{len(table.upstreams)} upstreams", style="green"))


@app.command()
def flip(feature: Annotated[str, typer.Argument(help="Feature name from the route table.")],
         to: Annotated[str, typer.Option("--to", help="legacy | shadow | canary | new | retired")],
         percent: Annotated[float | None, typer.Option("--percent", help="Canary share, 0 < N <= 100.")] = None,
         reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the ledger).")] = "",
         force: Annotated[bool, typer.Option("--force", help="Override refusals (recorded).")] = False,
         routes_file: RoutesOpt = None, as_json: JsonOpt = False) -> None:
    """Move FEATURE to another state; persisted in the table, recorded in the ledger, live within ~1 s."""
    path = _routes_path(routes_file)
    try:
        record = flip_feature(path, feature, to, percent=percent, actor=default_actor(), reason=reason,
                              force=force, gates=registered_gates())
    except FlipError as exc:
        _fail(str(exc), as_json, reasons=exc.reasons)
        return
    before = record.from_state + (f" {record.from_percent:g}%" if record.from_percent is not None else "")
    after = record.to_state + (f" {record.to_percent:g}%" if record.to_percent is not None else "")
    if as_json:
        typer.echo(json.dumps({"ok": True, **record.to_dict(), "changed": record.changed}, indent=2))
    elif not record.changed:
        _out().print(f"{feature} is already {after}; nothing to do (no ledger entry).")
    else:
        _out().print(Text.assemble((feature, "bold"), f": {before} → ", (after, "bold green")))
        if record.forced:
            _out().print(Text("forced over: " + "; ".join(record.evidence.get("overridden", [])), style="yellow"))
        _out().print(f"recorded in {default_ledger_path()} by {record.actor}; a running façade reloads it itself.")


@app.command()
def ledger(feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
           n: Annotated[int, typer.Option("-n", "--last", min=1, help="Show the last N entries.")] = 20,
           as_json: JsonOpt = False) -> None:
    """The append-only history of flips: who, when, from → to, why, evidence."""
    path = default_ledger_path()
    records = read_records(path, feature=feature, limit=n)
    if as_json:
        typer.echo(json.dumps(records, indent=2))
        return
    if not records:
        _out().print(f"No flips recorded in {path}{f' for {feature!r}' if feature else ''}.")
        return
    table = Table(title=f"Ledger — {path}")
    for column in ("time (UTC)", "actor", "feature", "change", "reason", "forced"):
        table.add_column(column)
    for rec in records:
        change = f"{_pct_label(rec, 'from')} → {_pct_label(rec, 'to')}"
        table.add_row(str(rec.get("ts", "")), str(rec.get("actor", "")), str(rec.get("feature", "")), change,
                      str(rec.get("reason") or ""), Text("FORCED", style="yellow") if rec.get("forced") else "")
    _out().print(table)


def _pct_label(rec: dict[str, Any], side: str) -> str:
    pct = rec.get(f"{side}_percent")
    return str(rec.get(f"{side}_state")) + (f" {pct:g}%" if isinstance(pct, (int, float)) else "")


def routes_status_section(settings: KitSettings) -> tuple[RenderableType, dict[str, Any]]:
    """`strangler status` section: the route table as loaded now, plus each feature's last flip."""
    path = settings.routes_path()
    try:
        table = load_table(path)
    except TableError as exc:
        return Text(f"Route table invalid:\n{exc}", style="red"), {"ok": False, "errors": _issues(exc)}
    data = table_summary(table, path)
    last = {}
    for rec in read_records(settings.var_dir / "ledger.jsonl"):
        last[rec.get("feature")] = rec
    for name, feat in data["features"].items():
        feat.pop("route_list")
        feat["last_flip"] = last.get(name)
    return render_table(table, path), {"ok": True, **data}


try:
    from strangler.status import register_section
except ImportError:  # status module not present: `strangler status` simply lacks this section
    pass
else:
    register_section("routes", routes_status_section)
