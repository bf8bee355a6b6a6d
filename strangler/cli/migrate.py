"""`strangler migrate …` — move a feature's data from the legacy database to its service's database."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from strangler.cli.app import app
from strangler.migrate.config import MigrationConfigError, feature_config
from strangler.migrate.engine import BackfillReport, MigrationError, backfill, open_engine
from strangler.migrate.ownership import ownership_path, record_backfill
from strangler.settings import get_settings

migrate_app = typer.Typer(help="Data migration: backfill a feature's tables into its service database.",
                          no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")

ConfigOption = Annotated[Path, typer.Option("--config", envvar="STRANGLER_MIGRATIONS_FILE",
                                            help="migrations file (feature → mappings and database URLs)")]


def _fail(console: Console, message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def _summary(reports: list[BackfillReport]) -> Table:
    table = Table(title="backfill")
    for column in ("source → target", "read", "written", "failed", "seconds", "rows/s"):
        table.add_column(column, justify="left" if column.startswith("source") else "right")
    for r in reports:
        table.add_row(f"{r.source_table} → {r.target_table}", str(r.read), str(r.written), str(r.failed),
                      f"{r.elapsed_s:.2f}", f"{r.rows_per_s:,.0f}")
    return table


@migrate_app.command("backfill")
def backfill_command(
    feature: Annotated[str, typer.Argument(help="feature name from the migrations file, e.g. catalog")],
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=100_000, help="rows per batch")] = 500,
    config: ConfigOption = Path("config/migrations.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON report instead of tables")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="exit 1 if any row failed to translate")] = False,
) -> None:
    """Copy FEATURE's legacy rows into its service database (idempotent upserts; safe to re-run).

    Rows that break the new model's rules are skipped and reported with the first reasons.
    Records backfilled_at and rows per table in var/ownership.json (write ownership is not changed).
    """
    console = Console(stderr=as_json)
    settings = get_settings()
    try:
        spec = feature_config(config, feature)
        mappings = spec.load_mappings()
        source_url = spec.resolve_url("source", settings.var_dir)
        target_url = spec.resolve_url("target", settings.var_dir)
    except MigrationConfigError as exc:
        raise _fail(console, str(exc)) from None

    source, target = open_engine(source_url), open_engine(target_url)
    reports: list[BackfillReport] = []
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=True, disable=as_json) as bar:
            for mapping in mappings:
                task = bar.add_task(mapping.name, total=None)

                def advance(report: BackfillReport, task_id=task) -> None:
                    bar.update(task_id, total=report.total, completed=report.read)

                reports.append(backfill(mapping, source, target, batch_size=batch_size, progress=advance))
    except MigrationError as exc:
        raise _fail(console, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _fail(console, f"database error: {type(exc).__name__}: {getattr(exc, 'orig', exc)}") from None
    finally:
        source.dispose()
        target.dispose()

    ledger = ownership_path(settings.var_dir)
    record_backfill(ledger, feature, {r.source_table: r.written for r in reports})
    if as_json:
        typer.echo(json.dumps({"feature": feature, "ownership_file": str(ledger),
                               "tables": [r.as_dict() for r in reports]}, indent=2, default=str))
    else:
        console.print(_summary(reports))
        for r in reports:
            if r.failed:
                console.print(f"[yellow]{r.failed} row(s) of {r.source_table} skipped[/yellow] — first reasons:")
                for reason in r.reasons:
                    console.print(f"  key {reason['key']}: {reason['field']}={reason['value']}: {reason['reason']}",
                                  highlight=False, markup=False)
        console.print(f"recorded in {ledger}")
    if strict and any(r.failed for r in reports):
        raise typer.Exit(1)
