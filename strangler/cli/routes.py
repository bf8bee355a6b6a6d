"""`strangler routes | routes check | routes push | routes pull | flip | ledger`: read, validate and change
the route table.

All writes go through proxy.flips.flip_feature (the same code the admin API uses), so the CLI and a running
façade can never disagree about what a flip means; the façade hot-reloads the file by itself. With a shared
store (--store URL or $STRANGLER_STORE_URL) the table and ledger live in PostgreSQL and every façade on that
store picks a flip up within a second; `routes push FILE` seeds it and `routes pull` reads it back.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.text import Text

from proxy.evidence import shown
from proxy.flips import FlipError, FlipRecord, default_actor, flip_feature
from proxy.stores import URL_ENV, Ledger, StoreError, TableStore, open_ledger, open_table_store, shared_url
from proxy.table import RouteTable, State, TableError
from strangler.cli.app import app
from strangler.cli.output import FAILED, Col, FitTable, console, fail, next_step, short_time
from strangler.gates import kit_gates
from strangler.settings import KitSettings, get_settings, init_routes

routes_app = typer.Typer(help="Show the route table (features, states, upstreams) or check a table file.",
                         invoke_without_command=True, no_args_is_help=False)
app.add_typer(routes_app, name="routes")

RoutesOpt = Annotated[Path | None, typer.Option(
    "--routes", help="Route table file (default: $STRANGLER_ROUTES_FILE, else the project's live table "
                     "var/routes.yaml, created from its config/routes.yaml).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
StoreOpt = Annotated[str | None, typer.Option(
    "--store", envvar=URL_ENV, show_envvar=True,
    help="Shared PostgreSQL store (postgresql+psycopg://USER@HOST:5432/DB?schema=NAME) holding the table and "
         "ledger for several façades; unset = the files.")]

_STATE_STYLE = {State.LEGACY: "white", State.SHADOW: "cyan", State.CANARY: "yellow", State.NEW: "green",
                State.RETIRED: "magenta"}


def _out() -> Console:
    return console()


def _err() -> Console:
    return console(stderr=True)


def _routes_path(option: Path | None, store: str | None = None, as_json: bool = False) -> TableStore:
    """The table in force: the shared store when --store / $STRANGLER_STORE_URL is given, else the file."""
    try:
        if store:
            return open_table_store(store, shared=True)
        return open_table_store(option if option is not None else get_settings().routes_path())
    except StoreError as exc:
        _fail(str(exc), as_json)
        raise  # unreachable: _fail exits


def _load_or_exit(path: TableStore | Path, as_json: bool) -> RouteTable:
    try:
        return open_table_store(path).load()
    except TableError as exc:
        _fail(str(exc), as_json, errors=_issues(exc))
        raise  # unreachable: _fail exits
    except StoreError as exc:
        _fail(str(exc), as_json)
        raise


def _fail(message: str, as_json: bool, **extra: Any) -> None:
    """The command's one error (exit 1); with --json the same error is also the JSON answer on stdout."""
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": message, **extra}, indent=2))
    raise fail(message, FAILED)


def _issues(exc: TableError) -> list[dict[str, Any]]:
    return [{"file": exc.file, "line": i.line, "problem": i.problem, "fix": i.fix} for i in exc.issues]


def _percent(state: State, pct: float) -> str:
    return f"{pct:g}%" if state is State.CANARY else "-"


def table_summary(table: RouteTable, path: TableStore | Path) -> dict[str, Any]:
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


def render_table(table: RouteTable, path: TableStore | Path) -> RenderableType:
    """Features then upstreams; each feature's target is named, its URL is in the upstreams table."""
    features = FitTable(Col("feature", whole=True), Col("state", whole=True), Col("canary", justify="right"),
                        Col("target", whole=True), Col("routes", justify="right", whole=True),
                        title=f"Features — {path}")
    for name, feat in table.features.items():
        features.add_row(name, Text(feat.state.value, style=_STATE_STYLE[feat.state]),
                         _percent(feat.state, feat.canary_percent), feat.target, str(len(feat.routes)))
    if not table.features:
        features.add_row("(no features: everything goes to the default)", "", "", "", "")
    upstreams = FitTable(Col("upstream", whole=True), Col("url"), Col("health", squeeze=True),
                         Col("dry-run writes"), title="Upstreams")
    for name, up in table.upstreams.items():
        label = f"{name} (default)" if name == table.default else name
        upstreams.add_row(label, up.url, up.health or "-", "yes" if up.dry_run_writes else "")
    return Group(features, upstreams)


@routes_app.callback()
def routes(ctx: typer.Context, routes_file: RoutesOpt = None, store: StoreOpt = None,
           as_json: JsonOpt = False) -> None:
    """Features with state, canary %, target and route count, plus the upstreams."""
    ctx.obj = {"routes": routes_file, "store": store}
    if ctx.invoked_subcommand is not None:
        return
    path = _routes_path(routes_file, store, as_json)
    table = _load_or_exit(path, as_json)
    if as_json:
        typer.echo(json.dumps(table_summary(table, path), indent=2))
    else:
        _out().print(render_table(table, path))


@routes_app.command("init")
def init(force: Annotated[bool, typer.Option("--force", help="Overwrite the live table with the template.")] = False,
         ) -> None:
    """Create the live route table (the project's var/routes.yaml, or $STRANGLER_ROUTES_FILE) from the template
    (the project's config/routes.yaml, or $STRANGLER_ROUTES_TEMPLATE), unless it already exists. Flips edit the
    live table; the template stays as written."""
    settings = get_settings()
    live = settings.routes_file or settings.var_dir / "routes.yaml"
    if not settings.routes_template.is_file():
        raise fail(f"no route table template at {settings.routes_template}. Fix: write it (see `strangler init`), "
                   "or point STRANGLER_ROUTES_TEMPLATE at one", FAILED)
    if init_routes(settings.routes_template, live, force=force):
        _out().print(f"created {live} from {settings.routes_template}", markup=False)
    else:
        _out().print(f"{live} exists; kept it (use --force to start again from the template)", markup=False)


@routes_app.command("check")
def check(ctx: typer.Context,
          file: Annotated[Path | None, typer.Argument(help="Table to validate (default: the routes file).")] = None,
          as_json: JsonOpt = False) -> None:
    """Validate a route table; exit 1 with file:line: problem. Fix: ... for each error."""
    obj = ctx.obj or {}
    path = file or _routes_path(obj.get("routes"), obj.get("store"), as_json)
    table = _load_or_exit(path, as_json)
    routes_count = sum(len(f.routes) for f in table.features.values())
    if as_json:
        typer.echo(json.dumps({"ok": True, "file": str(path), "features": len(table.features),
                               "routes": routes_count}, indent=2))
    else:
        _out().print(Text(f"{path}: OK — {len(table.features)} features, {routes_count} routes, "
                          f"{len(table.upstreams)} upstreams", style="green"))


@routes_app.command("push")
def push(ctx: typer.Context,
         file: Annotated[Path, typer.Argument(help="YAML route table to upload (validated first).")],
         store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Seed or replace the table in the shared store from a YAML file (ledgered); every façade reloads it."""
    url = store or (ctx.obj or {}).get("store")
    if not url:
        _fail(f"no shared store given; use --store URL or set {URL_ENV}", as_json)
        return
    location = _routes_path(None, url, as_json)
    table = _load_or_exit(file, as_json)
    try:
        before = location.version()
        version = location.push(file.read_text(encoding="utf-8"), actor=default_actor())
        location.append_ledger(FlipRecord.note(
            "(table)", f"v{before}" if before else "(empty)", to_state=f"v{version}", actor=default_actor(),
            reason=f"routes push {file}", evidence={"file": str(file), "features": len(table.features)}).to_dict())
    except StoreError as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        typer.echo(json.dumps({"ok": True, "store": str(location), "version": version,
                               "features": len(table.features)}, indent=2))
    else:
        _out().print(f"pushed {file} to {location} as version {version} ({len(table.features)} features)",
                     markup=False)


@routes_app.command("pull")
def pull(ctx: typer.Context,
         out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
         store: StoreOpt = None) -> None:
    """Print (or save) the YAML table document held by the shared store, comments included."""
    url = store or (ctx.obj or {}).get("store")
    if not url:
        _fail(f"no shared store given; use --store URL or set {URL_ENV}", False)
        return
    location = _routes_path(None, url)
    try:
        text = location.read().text
    except StoreError as exc:
        _fail(str(exc), False)
        return
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        _err().print(f"wrote {out} from {location}", markup=False)


@app.command()
def flip(feature: Annotated[str, typer.Argument(help="Feature name from the route table.")],
         to: Annotated[str, typer.Option("--to", help="legacy | shadow | canary | new | retired")],
         percent: Annotated[float | None, typer.Option("--percent", help="Canary share, 0 < N <= 100.")] = None,
         reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the ledger).")] = "",
         force: Annotated[bool, typer.Option("--force", help="Override refusals (recorded).")] = False,
         routes_file: RoutesOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Move FEATURE to another state; persisted in the table, recorded in the ledger, live within ~1 s."""
    path = _routes_path(routes_file, store, as_json)
    try:
        record = flip_feature(path, feature, to, percent=percent, actor=default_actor(), reason=reason,
                              force=force, gates=kit_gates())
    except FlipError as exc:
        _fail(str(exc), as_json, reasons=exc.reasons)
        return
    before = record.from_state + (f" {record.from_percent:g}%" if record.from_percent is not None else "")
    after = record.to_state + (f" {record.to_percent:g}%" if record.to_percent is not None else "")
    probe = _probe_writes(path, feature, as_json) if record.to_state == "shadow" else None
    if as_json:
        extra = {"probe_writes": probe} if probe is not None else {}
        typer.echo(json.dumps({"ok": True, **record.to_dict(), "changed": record.changed, **extra}, indent=2))
    elif not record.changed:
        _out().print(f"{feature} is already {after}; nothing to do (no ledger entry).")
    else:
        _out().print(Text.assemble((feature, "bold"), f": {before} → ", (after, "bold green")))
        if "samples" in record.evidence:
            _out().print(f"evidence: {shown(record.evidence)}", markup=False)
        if record.forced:
            _out().print(Text("forced over: " + "; ".join(record.evidence.get("overridden", [])), style="yellow"))
        _out().print(f"recorded in {path.ledger_name} by {record.actor}; a running façade reloads it itself.",
                     markup=False)
    if probe is not None and not as_json:
        from strangler.cli.parity import probe_writes_line

        _out().print(probe_writes_line(probe))
    if record.changed and not as_json:
        next_step(flip_next(feature, record.to_state, record.from_state, record.from_percent))


def flip_next(feature: str, to_state: str, from_state: str, from_percent: float | None) -> str:
    """After a flip: what shows whether it went well, and the command that undoes it."""
    back = f"strangler flip {feature} --to {from_state}" + (f" --percent {from_percent:g}" if from_state == "canary"
                                                            and from_percent is not None else "")
    watch = {"shadow": f"strangler parity report {feature}", "canary": f"strangler parity report {feature}",
             "new": "strangler status"}.get(to_state)
    return f"{watch} (undo: {back})" if watch else f"undo with {back}"


def _probe_writes(path: TableStore, feature: str, as_json: bool) -> dict[str, Any]:
    """In shadow, reads are compared at once; writes only once the target proved it rolls them back
    (`strangler parity probe-writes`, run here so the operator learns it now, not from a report)."""
    from strangler.cli.parity import probe_writes_of

    return probe_writes_of(_load_or_exit(path, as_json), feature, str(path))


@app.command()
def ledger(feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
           n: Annotated[int, typer.Option("-n", "--last", min=1, help="Show the last N entries.")] = 20,
           store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """The append-only history of flips: who, when, from → to, why, evidence."""
    path: Ledger = _routes_path(None, store, as_json) if store else open_ledger(None)
    try:
        records = path.read_ledger(feature, n)
    except StoreError as exc:
        _fail(str(exc), as_json)
        return
    if as_json:
        typer.echo(json.dumps(records, indent=2))
        return
    if not records:
        _out().print(f"No flips recorded in {path.ledger_name}{f' for {feature!r}' if feature else ''}.")
        return
    table = FitTable(Col("time (UTC)", whole=True), Col("actor", optional=True), Col("feature", whole=True),
                     Col("change", whole=True), Col("reason", squeeze=True, min_width=16),
                     Col("evidence", squeeze=True, optional=True), Col("forced", whole=True),
                     title=f"Ledger — {path.ledger_name}")
    for rec in records:
        change = f"{_pct_label(rec, 'from')} → {_pct_label(rec, 'to')}"
        evidence = rec.get("evidence") or {}
        table.add_row(short_time(rec.get("ts")), str(rec.get("actor", "")), str(rec.get("feature", "")), change,
                      str(rec.get("reason") or ""), shown(evidence) if "samples" in evidence else "",
                      Text("FORCED", style="yellow") if rec.get("forced") else "")
    _out().print(table)


def _pct_label(rec: dict[str, Any], side: str) -> str:
    pct = rec.get(f"{side}_percent")
    return str(rec.get(f"{side}_state")) + (f" {pct:g}%" if isinstance(pct, (int, float)) else "")


def routes_status_section(settings: KitSettings) -> tuple[RenderableType, dict[str, Any]]:
    """`strangler status` section: the route table as loaded now, plus each feature's last flip."""
    try:
        store = open_table_store(shared_url() or settings.routes_path(), ledger=settings.var_dir / "ledger.jsonl")
        table = store.load()
    except TableError as exc:
        return Text(f"Route table invalid:\n{exc}", style="red"), {"ok": False, "errors": _issues(exc)}
    except StoreError as exc:
        return Text(str(exc), style="red"), {"ok": False, "errors": [{"problem": str(exc)}]}
    data = table_summary(table, store)
    last = {}
    for rec in store.read_ledger():
        last[rec.get("feature")] = rec
    for name, feat in data["features"].items():
        feat.pop("route_list")
        feat["last_flip"] = last.get(name)
    return render_table(table, store), {"ok": True, **data}
