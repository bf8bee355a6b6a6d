"""`strangler analyze [SOURCES...]`, `analyze capture -- COMMAND...`, `analyze translate FILES...`.

The SQL footprint of a monolith: which tables each module and endpoint reads and writes, who owns what,
which cross-module accesses couple them, and a suggested extraction order. The analysis is also saved to
var/footprint/analysis.json, where the flip gate (strangler.footprint.gate) reads it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import strangler_app
import typer
from rich.console import Console
from strangler_app.sqlcapture import ENV as SQLCAPTURE_ENV
from typer.core import TyperGroup

from proxy.common.files import atomic_write
from strangler.cli.app import app
from strangler.cli.output import FAILED, console, fail, next_step, note
from strangler.footprint.analysis import analyse_capture, feature_view
from strangler.footprint.config import ConfigError, load_config
from strangler.footprint.gate import analysis_path
from strangler.footprint.readers import FORMATS as SOURCE_FORMATS
from strangler.footprint.readers import SourceError, read_sources
from strangler.footprint.report import FORMATS, RenderError, print_tables, render
from strangler.footprint.svg import render_svg, svg_path
from strangler.footprint.translate import metadata_ddl, translate_script
from strangler.project import ProjectError
from strangler.settings import get_settings


class _RunByDefault(TyperGroup):
    """`strangler analyze ARGS` means `strangler analyze run ARGS` unless ARGS starts with a subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # ctx: the click.Context typer vendors
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


analyze_app = typer.Typer(
    cls=_RunByDefault,
    help="SQL footprint: tables read/written per module and endpoint, ownership, cross-module coupling, "
         "extraction order. `strangler analyze [SOURCES]` runs the analysis (subcommand `run`).")
app.add_typer(analyze_app, name="analyze")


def default_capture_path() -> Path:
    return get_settings().var_dir / "footprint" / "capture.jsonl"


def _project_config() -> Path | None:
    """The project's footprint config; none outside a project (never the kit's demo file)."""
    try:
        return get_settings().footprint_file
    except ProjectError:
        return None


@analyze_app.command("run")
def run(
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Capture .jsonl, PostgreSQL log (.log stderr format, .csv csvlog) or .sql files "
             "(default: var/footprint/capture.jsonl).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the report here instead of stdout.")] = None,
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Ownership/feature config (default: the project's config/footprint.yaml, or "
        "$STRANGLER_FOOTPRINT_CONFIG, when present).")] = None,
    feature: Annotated[str | None, typer.Option(
        "--feature", help="Also show what moves with this feature and what must go through the ACL.")] = None,
    source_format: Annotated[str, typer.Option(
        "--source-format", help=f"Force the source format ({', '.join(SOURCE_FORMATS)}).")] = "auto",
    dialect: Annotated[str | None, typer.Option(
        "--dialect", help="SQL dialect of the sources (overrides the config), e.g. sqlite, postgres.")] = None,
    save: Annotated[bool, typer.Option("--save/--no-save", help="Save to var/footprint/analysis.json.")] = True,
    workers: Annotated[int | None, typer.Option(help="Processes for big JSONL files (default: CPUs).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
) -> None:
    """Analyse captured SQL and report the footprint."""
    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise fail(f"unknown --format {fmt!r}. Fix: use one of {', '.join(FORMATS)}")
    paths = list(sources or [default_capture_path()])
    try:
        cfg = load_config(config or _project_config(), required=config is not None)
        if dialect:
            cfg = cfg.model_copy(update={"dialect": type(cfg).model_validate({"dialect": dialect}).dialect})
        started = time.perf_counter()
        status = console(stderr=True)
        with status.status(f"reading {len(paths)} source(s)…"):
            captured = read_sources(paths, source_format, workers=workers)
        with status.status(f"analysing {len(captured.counts)} distinct statement groups…"):
            analysis = analyse_capture(captured, cfg)
        analysis["stats"]["seconds"] = round(time.perf_counter() - started, 3)
        view = feature_view(analysis, feature) if feature else None
    except (SourceError, ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    except KeyError as exc:
        raise fail(exc.args[0]) from None
    if save:
        atomic_write(analysis_path(get_settings().var_dir), json.dumps(analysis, indent=1))
        atomic_write(svg_path(analysis_path(get_settings().var_dir)), render_svg(analysis))  # dashboard, report
    try:
        _emit(analysis, fmt, out, view)
    except RenderError as exc:
        raise fail(str(exc)) from None


def _emit(analysis: dict, fmt: str, out: Path | None, view: dict | None) -> None:
    if fmt == "table":
        if out is None:
            print_tables(analysis, Console(width=console().width, highlight=False), view)
            return
        with out.open("w") as f:
            print_tables(analysis, Console(file=f, width=160, color_system=None), view)
        return
    text = render(analysis, fmt, view)
    if out is None:
        sys.stdout.write(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        note(f"wrote {fmt} report to {out}")


@analyze_app.command("capture", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def capture(
    ctx: typer.Context,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Capture file (default: var/footprint/capture.jsonl); appended to.")] = None,
) -> None:
    """Run COMMAND (after `--`) with SQL capture on: any Python (>= 3.8) process using SQLAlchemy, in its own
    virtualenv, e.g. `strangler analyze capture -- ../app/.venv/bin/gunicorn myapp.wsgi:app`. Exercise the app,
    stop it, then `strangler analyze`."""
    command = list(ctx.args)
    if not command:
        raise fail("no command given. Fix: strangler analyze capture -- gunicorn your.wsgi:app -b 127.0.0.1:5000")
    path = (out or default_capture_path()).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    before = _count_lines(path)
    env = capture_env(os.environ, path)
    note(f"capturing SQL to {path} while running: {' '.join(command)} (stop it with Ctrl-C)")
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as exc:
        raise fail(f"cannot start {command[0]!r}: {exc}") from None
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        code = proc.wait()
    captured = _count_lines(path) - before
    note(f"captured {captured} statements")
    if not captured:
        note("nothing captured: the command must be a Python process that uses SQLAlchemy and honours "
             "PYTHONPATH (not `python -I`/`-E`). Fix: run the app itself, e.g. `-- .venv/bin/gunicorn app:app`")
    else:
        next_step(f"strangler analyze {path}")
    if code > 0:  # negative: stopped by the signal we were sent (Ctrl-C), which is how a capture ends
        raise fail(f"the captured command exited with code {code}. Fix: see its output above", code)


def capture_env(environ: Mapping[str, str], path: Path) -> dict[str, str]:
    """The app's environment plus capture: ONLY the adapter's sitecustomize folder goes first on PYTHONPATH
    (never the kit: the app runs in its own virtualenv, maybe another Python); it loads
    strangler_app/sqlcapture.py from its file and runs the sitecustomize it shadows."""
    hook_dir = Path(strangler_app.__file__).parent / "_capture"
    return {**environ, SQLCAPTURE_ENV: str(path),
            "PYTHONPATH": os.pathsep.join(p for p in (str(hook_dir), environ.get("PYTHONPATH", "")) if p)}


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


@analyze_app.command("translate")
def translate(
    files: Annotated[list[Path] | None, typer.Argument(help="SQL files (statements separated by ';').")] = None,
    read: Annotated[str, typer.Option("--from", help="Source dialect.")] = "sqlite",
    write: Annotated[str, typer.Option("--to", help="Target dialect.")] = "postgres",
    sql: Annotated[str | None, typer.Option("--sql", help="Translate this SQL text.")] = None,
    metadata: Annotated[str | None, typer.Option(
        "--metadata", help="module:attr of a SQLAlchemy MetaData/declarative base: dump its DDL, translate it.",
    )] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write translated SQL here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable results.")] = False,
) -> None:
    """Translate SQL/DDL between dialects; exit 1 when any statement cannot be translated."""
    from sqlglot.dialects.dialect import Dialect

    for name in (read, write):
        try:
            Dialect.get_or_raise(name)
        except ValueError:
            raise fail(f"unknown dialect {name!r}. Fix: use a sqlglot dialect name such as sqlite, postgres, "
                       "mysql") from None
    inputs: list[tuple[str, str]] = []
    for path in files or []:
        if not path.is_file():
            raise fail(f"{path}: no such file")
        inputs.append((str(path), path.read_text(errors="replace")))
    if sql:
        inputs.append(("--sql", sql))
    if metadata:
        try:
            inputs.append((f"--metadata {metadata}", metadata_ddl(metadata)))
        except ValueError as exc:
            raise fail(str(exc)) from None
        read_dialect_for = {f"--metadata {metadata}": "sqlite"}
    else:
        read_dialect_for = {}
    if not inputs:
        raise fail("nothing to translate. Fix: pass FILES, --sql TEXT or --metadata module:attr")
    results, chunks, failures = [], [], 0
    for name, text in inputs:
        for i, item in enumerate(translate_script(text, read_dialect_for.get(name, read), write), 1):
            results.append({"source": name, "statement": i, "sql": item.source, "output": item.output,
                            "error": item.error, "warnings": item.warnings})
            if item.error:
                failures += 1
                chunks.append(f"-- {name} #{i}: NOT TRANSLATED: {item.error}\n-- " +
                              item.source.replace("\n", "\n-- ") + "\n")
            else:
                notes = "".join(f"-- warning: {w}\n" for w in item.warnings)
                chunks.append(f"{notes}{item.output};\n")
    if as_json:
        text = json.dumps({"from": read, "to": write, "failures": failures, "statements": results}, indent=2) + "\n"
    else:
        text = "\n".join(chunks)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
    for r in results:
        if r["error"]:
            first = str(r["sql"]).splitlines()[0][:100]
            note(f"{r['source']} #{r['statement']}: cannot translate `{first}`: {r['error']}")
    summary = f"{len(results) - failures} of {len(results)} statements translated from {read} to {write}"
    if failures:
        raise fail(f"{summary}. Fix: rewrite the statements listed above by hand (they are kept, commented, in "
                   "the output)", FAILED)
    note(summary)
