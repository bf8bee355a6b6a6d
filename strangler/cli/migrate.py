"""`strangler migrate …` — move a feature's data between the legacy database and its service's database:
backfill, verify, change capture, continuous sync both ways, write handover, status."""
from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy.exc import SQLAlchemyError

from strangler.cli.app import app
from strangler.cli.output import FAILED, Col, FitTable, fail, next_step
from strangler.cli.output import console as make_console
from strangler.cli.routes import RoutesOpt, StoreOpt, _routes_path
from strangler.migrate import capture
from strangler.migrate.config import MigrationConfigError
from strangler.migrate.db import MigrationError
from strangler.migrate.engine import DEFAULT_BATCH_SIZE, BackfillReport, backfill, quarantined_count
from strangler.migrate.feature import SIDES, FeatureRuntime, open_feature
from strangler.migrate.idrange import check_ranges
from strangler.migrate.mapping import what_verify_proves
from strangler.migrate.ownership import ownership_path, record_backfill
from strangler.migrate.runner import (
    HandoverOptions,
    Round,
    handover,
    live_status,
    run_sync,
    verify_feature,
)
from strangler.settings import get_settings

migrate_app = typer.Typer(help="Data migration: backfill, verify, capture changes, sync both ways, hand over "
                               "writes.", no_args_is_help=True)
capture_app = typer.Typer(help="Install or remove the change-capture triggers of a feature.", no_args_is_help=True)
migrate_app.add_typer(capture_app, name="capture")
app.add_typer(migrate_app, name="migrate")

FeatureArg = Annotated[str, typer.Argument(help="feature name from the migrations file, e.g. catalog")]
ConfigOption = Annotated[Path | None, typer.Option(
    "--config", envvar="STRANGLER_MIGRATIONS_FILE", show_default=False,
    help="migrations file (feature → mappings and database URLs; default: the project's config/migrations.yaml)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="rows per batch")]
DEFAULT_CONFIG: Path | None = None  # the project's config/migrations.yaml (KitSettings.migrations_file)


def _fail(_console: Console, message: str, code: int = 2) -> Exception:
    """The command's one error line and exit code (output.fail; printed by the root group)."""
    return fail(message, code)


@contextlib.contextmanager
def _feature(console: Console, config: Path | None, feature: str) -> Iterator[FeatureRuntime]:
    """Open the feature; configuration, migration and database errors become one clear line, exit 2."""
    try:
        settings = get_settings()
        runtime = open_feature(config or settings.migrations_file, feature, settings.var_dir)
    except (MigrationConfigError, MigrationError) as exc:
        raise _fail(console, str(exc)) from None
    try:
        yield runtime
    except (MigrationConfigError, MigrationError) as exc:
        raise _fail(console, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(console, f"database error: {type(exc).__name__}: {getattr(exc, 'orig', exc)}") from None
    finally:
        runtime.dispose()


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _backfill_summary(reports: list[BackfillReport]) -> FitTable:
    table = FitTable(Col("source → target", squeeze=True, min_width=16),
                     *(Col(c, justify="right", whole=True) for c in ("read", "written", "quarantined", "this run",
                                                                     "seconds", "rows/s")),
                     Col("note", squeeze=True), title="backfill")
    for r in reports:
        note = "already complete (use --restart to redo)" if r.already_complete else \
            (f"resumed after key {r.resumed_from}" if r.resumed_from is not None else "")
        table.add_row(f"{r.source_table} → {r.target_table}", str(r.read), str(r.written), str(r.quarantined),
                      str(r.read_this_run), f"{r.elapsed_s:.2f}", f"{r.rows_per_s:,.0f}", note)
    return table


@migrate_app.command("backfill")
def backfill_command(feature: FeatureArg, batch_size: BatchOption = DEFAULT_BATCH_SIZE,
                     config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False,
                     restart: Annotated[bool, typer.Option("--restart", help="ignore the checkpoint")] = False,
                     strict: Annotated[bool, typer.Option("--strict", help="exit 1 if any row is quarantined")]
                     = False) -> None:
    """Copy FEATURE's legacy rows into its service database, resuming from the checkpoint.

    Idempotent upserts; rows that cannot be translated go to _strangler_quarantine (the run goes on).
    Install change capture first (`migrate capture install`) so writes during the backfill are not missed.
    """
    console = make_console(stderr=as_json)
    settings = get_settings()
    reports: list[BackfillReport] = []
    with _feature(console, config, feature) as runtime:
        captured = capture.installed(runtime.source, runtime.capture_specs("legacy"))
        if not all(captured.values()) and not as_json:
            console.print(f"[yellow]note:[/yellow] change capture is not installed on legacy; writes made during "
                          f"the backfill reach the service only via a later backfill --restart "
                          f"(`strangler migrate capture install {feature}`)")
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True, disable=as_json) as bar:
            for mapping in runtime.mappings:
                task = bar.add_task(mapping.name, total=None, rate="")

                def advance(report: BackfillReport, task_id=task) -> None:
                    bar.update(task_id, total=report.total, completed=report.read,
                               rate=f"{report.rows_per_s:,.0f} rows/s")

                reports.append(backfill(mapping, runtime.source, runtime.target, batch_size=batch_size,
                                        progress=advance, feature=feature, restart=restart))
    ledger = ownership_path(settings.var_dir)
    record_backfill(ledger, feature, {r.source_table: r.written for r in reports})
    if as_json:
        _echo_json({"feature": feature, "ownership_file": str(ledger), "tables": [r.as_dict() for r in reports]})
    else:
        console.print(_backfill_summary(reports))
        for r in reports:
            if r.quarantined:
                console.print(f"[yellow]{r.quarantined} row(s) of {r.source_table} quarantined[/yellow] "
                              "(table _strangler_quarantine in the service database)"
                              f"{' — first reasons this run:' if r.reasons else ''}")
                for reason in r.reasons:
                    console.print(f"  key {reason['key']}: {reason['reason']}", highlight=False, markup=False)
        console.print(f"recorded in {ledger}")
    if strict and any(r.quarantined for r in reports):
        raise fail(f"{sum(r.quarantined for r in reports)} row(s) quarantined and --strict is set. Fix: see the "
                   "reasons above (table _strangler_quarantine), correct the mapping, backfill again", FAILED)
    if not as_json:
        next_step(f"strangler migrate verify {feature}")


@migrate_app.command("verify")
def verify_command(feature: FeatureArg, config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False,
                   limit: Annotated[int, typer.Option("--limit", min=1, help="keys listed per kind")] = 20,
                   strict: Annotated[bool, typer.Option("--strict", help="quarantined rows fail too")] = False
                   ) -> None:
    """Compare both sides row by row in canonical domain form; exit 0 pass, 1 fail. Records verified_at."""
    console = make_console(stderr=as_json)
    with _feature(console, config, feature) as runtime:
        ok, reports = verify_feature(runtime, ownership_path(get_settings().var_dir), limit=limit, strict=strict)
        proves = [what_verify_proves(m) for m in runtime.mappings]
    if as_json:
        _echo_json({"feature": feature, "ok": ok, "tables": [r.as_dict() for r in reports], "proves": proves})
    else:
        table = FitTable(Col("table", squeeze=True, min_width=16),
                         *(Col(c, justify="right", whole=True) for c in ("legacy", "service", "matched", "differing",
                                                                         "missing", "extra")),
                         Col("quarantined", justify="right", whole=True, optional=True),
                         Col("checksums", squeeze=True, optional=True),
                         title=f"verify {feature}: {'PASS' if ok else 'FAIL'} (rows per side and per verdict)")
        for r in reports:
            same = r.source_checksum == r.target_checksum
            table.add_row(f"{r.source_table} → {r.target_table}", str(r.source_rows), str(r.target_rows),
                          str(r.matched), str(r.differing), str(r.missing), str(r.extra), str(r.quarantined),
                          f"{'equal' if same else 'differ'} {r.source_checksum[:12]}")
        console.print(table)
        for r in reports:
            for kind, keys in r.samples.items():
                if keys:
                    console.print(f"  {r.source_table} {kind}: {keys}", highlight=False, markup=False)
            for reason in r.reasons:
                console.print(f"  {r.source_table} key {reason['key']}: {reason['reason']}", highlight=False,
                              markup=False)
            if r.first_difference:
                console.print(f"  first difference: {json.dumps(r.first_difference, default=str)}",
                              highlight=False, markup=False)
        for line in proves:
            console.print(f"proves: {line}", highlight=False, markup=False)
    if not ok:
        raise fail(f"verify {feature}: FAIL — the two sides differ (rows and keys above). Fix: correct the mapping "
                   f"or the data, then `strangler migrate backfill {feature} --restart` and verify again", FAILED)
    if not as_json:
        next_step(f"strangler flip {feature} --to shadow")


def _capture_sides(side: str) -> tuple[str, ...]:
    if side not in (*SIDES, "both"):
        raise typer.BadParameter(f"--side must be legacy, service or both, not {side!r}")
    return SIDES if side == "both" else (side,)


SideOption = Annotated[str, typer.Option("--side", help="legacy (forward sync), service (reverse) or both")]


@capture_app.command("install")
def capture_install(feature: FeatureArg, side: SideOption = "both", config: ConfigOption = DEFAULT_CONFIG,
                    as_json: JsonOption = False) -> None:
    """Create _STRANGLER_CHANGES and AFTER INSERT/UPDATE/DELETE triggers (idempotent)."""
    console = make_console(stderr=as_json)
    done: dict[str, list[str]] = {}
    with _feature(console, config, feature) as runtime:
        for which in _capture_sides(side):
            if which == "service":
                runtime.create_target_tables()
            engine = runtime.source if which == "legacy" else runtime.target
            done[which] = capture.install(engine, runtime.capture_specs(which))
    if as_json:
        _echo_json({"feature": feature, "installed": done})
    else:
        for which, names in done.items():
            console.print(f"{which}: {len(names)} trigger(s) installed: {', '.join(names)}", highlight=False)


@capture_app.command("remove")
def capture_remove(feature: FeatureArg, side: SideOption = "both", config: ConfigOption = DEFAULT_CONFIG,
                   purge: Annotated[bool, typer.Option("--purge", help="also drop the change log")] = False) -> None:
    """Drop the capture triggers (and with --purge the change log)."""
    console = make_console()
    with _feature(console, config, feature) as runtime:
        for which in _capture_sides(side):
            engine = runtime.source if which == "legacy" else runtime.target
            capture.remove(engine, runtime.capture_specs(which), purge=purge)
            console.print(f"{which}: capture removed{' and change log dropped' if purge else ''}")


@migrate_app.command("sync")
def sync_command(feature: FeatureArg, config: ConfigOption = DEFAULT_CONFIG,
                 once: Annotated[bool, typer.Option("--once", help="drain pending changes, then exit")] = False,
                 interval: Annotated[float, typer.Option("--interval", min=0.05, help="seconds between polls")]
                 = 1.0,
                 direction: Annotated[str | None, typer.Option(
                     "--direction", help="forward | reverse (default: follow writes_owner in ownership.json)")]
                 = None, batch_size: BatchOption = 500, as_json: JsonOption = False,
                 health_port: Annotated[int | None, typer.Option(
                     "--health-port", min=1, max=65535, help="serve GET /healthz (lag JSON) on 127.0.0.1:PORT")]
                 = None) -> None:
    """Apply captured changes continuously (Ctrl-C / SIGTERM stop it cleanly after the current round)."""
    from strangler.migrate.health import SyncHealth

    console = make_console(stderr=as_json)
    health = SyncHealth(feature)
    if direction not in (None, "forward", "reverse"):
        raise _fail(console, f"--direction must be forward or reverse, not {direction!r}")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    totals = {"changes": 0, "upserted": 0, "deleted": 0, "quarantined": 0}

    def report(done: Round) -> None:
        health.update(done.direction, done.lag.pending, done.lag.oldest_age_s)
        for name in totals:
            totals[name] += getattr(done.result, name)
        if done.result.changes and not as_json:
            console.print(f"{done.direction}: {done.result.changes} change(s) → {done.result.upserted} upserted, "
                          f"{done.result.deleted} deleted, {done.result.quarantined} quarantined; pending "
                          f"{done.lag.pending}, lag {done.lag.oldest_age_s:.2f}s", highlight=False)
        for reason in done.result.reasons:
            console.print(f"  [yellow]quarantined[/yellow] {reason}", highlight=False)

    try:
        if health_port is not None:
            try:
                health.serve("127.0.0.1", health_port)
            except OSError as exc:
                raise _fail(console, f"--health-port {health_port}: {exc}; pick a free port") from None
        with _feature(console, config, feature) as runtime:
            run_sync(runtime, ownership_path(get_settings().var_dir), direction=direction, once=once,
                     interval=interval, batch_size=batch_size, stop=stop, on_round=report)
    finally:
        health.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if as_json:
        _echo_json({"feature": feature, **totals})


@migrate_app.command("handover")
def handover_command(feature: FeatureArg,
                     writes: Annotated[str, typer.Option("--writes", help="new write owner: service | legacy")],
                     config: ConfigOption = DEFAULT_CONFIG,
                     timeout: Annotated[float, typer.Option("--timeout", min=1, help="max seconds to drain")] = 60,
                     quiet: Annotated[float | None, typer.Option(
                         "--quiet", min=0, help="seconds without a pending change that end the drain (default: the "
                                                "old owner's upstream timeout_s + 1)")] = None,
                     max_lag: Annotated[float | None, typer.Option(
                         "--max-lag", min=0, help="refuse when the sync lags more (default: $STRANGLER_SYNC_MAX_LAG_S "
                                                  "or 30)")] = None,
                     allow_quarantined: Annotated[bool, typer.Option(
                         "--allow-quarantined", help="hand over although rows are quarantined")] = False,
                     without_reverse_sync: Annotated[bool, typer.Option(
                         "--without-reverse-sync", help="hand writes to a service whose mapping has no to_source "
                                                        "(legacy then never sees them)")] = False,
                     reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the ledger).")] = "",
                     routes_file: RoutesOpt = None, store: StoreOpt = None, as_json: JsonOption = False) -> None:
    """Move FEATURE's writes to the other side: flip writes_owner in the route table (the façade sends writes
    there at once), drain the old sync direction until quiet, then turn the sync round. Refuses up front,
    changing nothing, without a reverse translator, with rows quarantined, or with a stale or lagging sync."""
    console = make_console(stderr=as_json)
    options = HandoverOptions(timeout_s=timeout, quiet_s=quiet, max_lag_s=max_lag, allow_quarantined=allow_quarantined,
                              without_reverse_sync=without_reverse_sync, reason=reason)
    with _feature(console, config, feature) as runtime:
        result = handover(runtime, ownership_path(get_settings().var_dir), writes,
                          _routes_path(routes_file, store, as_json), options)
    if as_json:
        _echo_json(result)
    elif not result["changed"]:
        console.print(f"{feature}: writes are already owned by {writes}; nothing to do")
    else:
        console.print(f"{feature}: writes now owned by [bold]{writes}[/bold]; drained {result['drained_changes']} "
                      f"change(s); sync direction is {result['sync_direction']}")
        back = "legacy" if writes == "service" else "service"
        next_step(f"strangler status (undo: strangler migrate handover {feature} --writes {back})")


@migrate_app.command("status")
def status_command(feature: Annotated[str | None, typer.Argument(help="one feature (default: all configured)")]
                   = None, config: ConfigOption = DEFAULT_CONFIG, as_json: JsonOption = False) -> None:
    """Ownership, verification, capture, pending changes and lag per feature, read live from the databases."""
    from strangler.migrate.config import load_config

    console = make_console(stderr=as_json)
    try:
        names = [feature] if feature else sorted(load_config(config or get_settings().migrations_file))
    except MigrationConfigError as exc:
        raise _fail(console, str(exc)) from None
    results = []
    for name in names:
        with _feature(console, config, name) as runtime:
            results.append({**live_status(runtime, ownership_path(get_settings().var_dir)),
                            "quarantined": {"forward": quarantined_count(runtime.target, name),
                                            "reverse": quarantined_count(runtime.source, name)},
                            "id_ranges": check_ranges(runtime)})
    if as_json:
        _echo_json({"features": results})
        return
    table = FitTable(Col("feature", whole=True), Col("writes", whole=True), Col("sync", whole=True),
                     Col("capture", whole=True, optional=True), Col("pending", whole=True), Col("lag s", whole=True),
                     Col("quarantined", whole=True), Col("verified", whole=True),
                     Col("id range", squeeze=True, optional=True),
                     title="data migration (x/y: legacy/service for capture, forward/reverse for the rest)")
    for item in results:
        live = item["live"]

        def cap(d: str, live: dict[str, Any] = live) -> str:
            values = live[d].get("capture") or {}
            return "on" if values and all(values.values()) else "off"
        verified = [t for t, info in item["tables"].items() if info.get("verified_at")]
        table.add_row(item["feature"], item["writes_owner"], item["sync"].get("direction") or "off",
                      f"{cap('forward')}/{cap('reverse')}",
                      f"{live['forward'].get('pending', '-')}/{live['reverse'].get('pending', '-')}",
                      f"{live['forward'].get('lag_s', '-')}/{live['reverse'].get('lag_s', '-')}",
                      f"{item['quarantined']['forward']}/{item['quarantined']['reverse']}",
                      f"{len(verified)}/{len(item['tables'])}", _range_cell(item["id_ranges"]))
    console.print(table)
    for item in results:
        for check in item["id_ranges"]:
            if check["problem"]:
                colour = "red" if check["level"] == "error" else "yellow"
                console.print(f"[{colour}]{check['level']}:[/{colour}] {item['feature']}: {check['problem']}",
                              highlight=False)


def _range_cell(checks: list[dict[str, Any]]) -> str:
    """'ok legacy ≤ 2000 < 10000000' per table with a service id range, '-' without one."""
    cells = [f"{c['level']} legacy ≤ {c['legacy_max'] if c['legacy_max'] is not None else '-'} < {c['range_start']}"
             if c["range_start"] is not None else f"{c['level']}: {c['setting']}" for c in checks]
    return ", ".join(cells) or "-"
