"""`strangler parity run | report | examples | export | suggest-ignores | probe-writes`: compare legacy and
candidate answers; prove a target rolls shadowed writes back.

`run` drives Locust (load/locustfile_parity.py); the façade's shadow mode records into the same store, so
report / examples / export / suggest-ignores work on either source.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text
from strangler_app import protocol

from proxy.common.suggest import did_you_mean
from proxy.flips import FlipError, default_actor, feature_or_error
from proxy.ledger import default_ledger_path
from proxy.parity.export import export_example
from proxy.parity.ignore import add_ignore_rules
from proxy.parity.noise import Thresholds
from proxy.parity.recent import evaluate, normaliser_proposals
from proxy.parity.report import build_report, render_html
from proxy.parity.store import TARGET_PROVEN, UNSAFE_TEXT, ParityStore, open_store, parity_location
from proxy.shadow.safety import probe_now, record_verdict
from proxy.shared_store import StoreError, is_store_url, store_for
from proxy.table import ParityConfig, RouteTable, State, TableError, load_table
from strangler.cli.app import app
from strangler.cli.load import (
    LOAD_DIR,
    CsvOpt,
    HtmlOpt,
    LocustRun,
    MixNameOpt,
    MixOpt,
    ProcessesOpt,
    RunTimeOpt,
    UsersOpt,
    check_run_time,
    default_output,
    execute,
    loopback_url,
)
from strangler.cli.output import FAILED, USAGE, Col, FitTable, console, fail, next_step, note
from strangler.cli.parity_view import render
from strangler.secrets import secret
from strangler.settings import get_settings

parity_app = typer.Typer(help="Parity between legacy and a candidate: run, report, export, suggest ignores.",
                         no_args_is_help=True)
app.add_typer(parity_app, name="parity")

StoreOpt = Annotated[str | None, typer.Option(
    "--store", envvar="STRANGLER_PARITY_STORE", show_envvar=True,
    help="Parity store: a SQLite file, or a shared PostgreSQL store postgresql+psycopg://USER@HOST:5432/DB"
         "?schema=NAME (default: $STRANGLER_STORE_URL when set, else var/parity.db).")]
RoutesOpt = Annotated[Path | None, typer.Option("--routes", help="Route table (default: the routes file).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
RelOpt = Annotated[float, typer.Option("--relative", min=0, max=1, help="Noise relative threshold (fraction).")]
AbsOpt = Annotated[float, typer.Option("--absolute", min=0, max=1, help="Noise absolute threshold (fraction).")]


def _out() -> Console:
    return console()


def _open_store(store: str | None, *, must_exist: bool = True) -> ParityStore:
    """--store / $STRANGLER_PARITY_STORE, else the shared store ($STRANGLER_STORE_URL), else var/parity.db."""
    target = parity_location(store)
    if not is_store_url(str(target)):
        target = Path(target)
        if must_exist and not target.exists():
            raise fail(f"no parity store at {target}: nothing compared yet. Fix: record comparisons first "
                       "(`strangler flip FEATURE --to shadow` with traffic, or `strangler parity run`), or pass "
                       "--store FILE|postgresql+psycopg://…", FAILED)
    try:
        return open_store(target, background=False)
    except StoreError as exc:
        raise fail(str(exc), 1) from None
    except Exception as exc:  # e.g. psycopg: no right to create the schema; say so, no traceback
        if type(exc).__module__.split(".")[0] != "psycopg":
            raise
        raise fail(f"cannot open the parity store {_shown(target)}: {exc}".strip(), 1) from None


def _shown(target: str | Path) -> str:
    """A store location fit to print (a URL without its password)."""
    return str(store_for(str(target))) if is_store_url(str(target)) else str(target)


def _routes(path: Path | None) -> Path:
    return path or get_settings().routes_path()


def _parity_config(routes: Path, feature: str) -> ParityConfig | None:
    return _parity_rules(routes).get(feature)


def _parity_rules(routes: Path) -> dict[str, ParityConfig]:
    """Every feature's parity rules in force (empty when the table cannot be read: default rules apply)."""
    try:
        table = load_table(routes)
    except (TableError, OSError):
        return {}
    return {name: feat.parity for name, feat in table.features.items()}


@parity_app.command("run")
def run(reference: Annotated[str, typer.Option("--reference", help="Legacy base URL (loopback).")],
        candidate: Annotated[str, typer.Option("--candidate", help="Façade or service base URL (loopback).")],
        feature: Annotated[str | None, typer.Option("--feature", help="Use this feature's parity rules and "
                                                    "only the mix requests its routes claim.")] = None,
        users: UsersOpt = 5, run_time: RunTimeOpt = "20s", processes: ProcessesOpt = None,
        csv: CsvOpt = None, html: HtmlOpt = None, mix: MixOpt = None,
        mix_name: MixNameOpt = "read",
        max_requests: Annotated[int, typer.Option(
            "--max-requests", min=1, help="Stop after this many comparisons (each sends legacy and the "
                                          "candidate a request, and legacy a second one when it is a noise "
                                          "sample).")] = 100_000,
        routes: RoutesOpt = None, store: StoreOpt = None,
        noise_sample_rate: Annotated[float | None, typer.Option(
            "--noise-sample-rate", min=0, max=1,
            help="Share of requests also sent to legacy twice, after the first 5 of each route "
                 "(default: the feature's parity.noise_sample_rate, as in shadow).")] = None,
        max_mismatch_rate: Annotated[float, typer.Option("--max-mismatch-rate", min=0, max=1,
                                                         help="Fail above this mismatch fraction.")] = 0.0,
        max_fail_ratio: Annotated[float, typer.Option("--max-fail-ratio", min=0, max=1,
                                                      help="Fail above this failure fraction.")] = 0.0) -> None:
    """Send the mix to REFERENCE and CANDIDATE, compare every answer; exit non-zero on a real difference."""
    routes_path = _routes(routes)
    if feature:
        try:
            feature_or_error(load_table(routes_path), feature, routes_path)
        except (TableError, FlipError) as exc:
            raise fail(str(exc)) from None
    default_csv, default_html = default_output("parity")
    extra = {"STRANGLER_PARITY_REFERENCE": loopback_url(reference, "--reference"),
             "STRANGLER_PARITY_FEATURE": feature or "", "STRANGLER_ROUTES_FILE": str(routes_path),
             "STRANGLER_PARITY_STORE": str(parity_location(store)),
             "STRANGLER_PARITY_NOISE_RATE": "" if noise_sample_rate is None else str(noise_sample_rate),
             "STRANGLER_MAX_MISMATCH_RATE": str(max_mismatch_rate), "STRANGLER_MAX_FAIL_RATIO": str(max_fail_ratio)}
    job = LocustRun(LOAD_DIR / "locustfile_parity.py", loopback_url(candidate, "--candidate"), users,
                    check_run_time(run_time), processes, csv or default_csv, html or default_html,
                    mix or get_settings().mix_file, mix_name,
                    max_requests, extra, get_settings().var_dir)
    code = execute(job, also={"--reference": extra["STRANGLER_PARITY_REFERENCE"]},
                   kind="parity" if csv is None and html is None else None)
    shown = _shown(extra["STRANGLER_PARITY_STORE"])
    note(f"details: strangler parity report {feature or 'adhoc'} --store {shown}")
    if code:
        raise fail(f"parity run failed (Locust exit code {code}): differences, failures or errors above the "
                   f"thresholds. Fix: see `strangler parity report {feature or 'adhoc'} --store {shown}`", code)


@parity_app.command("report")
def report(feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
           as_json: JsonOpt = False,
           html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML file.")] = None,
           store: StoreOpt = None, relative: RelOpt = 0.20, absolute: AbsOpt = 0.0003, routes: RoutesOpt = None,
           fields: Annotated[bool, typer.Option("--fields", help="Also list every field's raw and noise rates "
                                                "and verdict.")] = False) -> None:
    """Per feature: the recent comparisons grouped by cause (status class, content type, body, ...), fields
    folded under each cause, under the parity rules in force; --fields adds per-field rates and verdicts.

    Exit 2 for a feature neither the route table nor the store knows (with the closest name), exit 1 when
    nothing is recorded yet (for FEATURE: its state and what records comparisons). A shadowed feature
    whose answers are equal ends with "Next:" its canary flip."""
    table = _table_or_none(_routes(routes))
    with _open_store(store) as db:
        if feature is not None:
            _check_reported(feature, table, db)
        data = build_report(db, feature, thresholds=Thresholds(relative, absolute),
                            rules=_parity_rules(_routes(routes)))
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(data), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
    elif not data["features"] and not data.get("dry_run_targets"):  # a target's verdict is a finding too
        raise fail(f"no comparisons recorded in {data['store']} yet. Fix: put a feature in shadow "
                   "(`strangler flip FEATURE --to shadow`) and send it traffic, or `strangler parity run`", FAILED)
    else:
        _out().print(render(data, fields=fields))
        if html is not None:
            _out().print(f"HTML report: {html}")
        hint = _report_next(data, table)
        if hint:
            next_step(hint)


def _table_or_none(routes: Path) -> RouteTable | None:
    try:
        return load_table(routes)
    except (TableError, OSError):
        return None


def _check_reported(feature: str, table: RouteTable | None, db: ParityStore) -> None:
    """An unknown feature is a typo (exit 2, did-you-mean); a known one with no comparisons says its state
    and what would record some (exit 1: there is nothing to report, which is not a pass)."""
    recorded = set(db.features())
    if feature in recorded:
        return
    known = sorted(recorded | set(table.features if table else ()))
    if feature not in known:
        raise fail(f"no feature {feature!r} in the route table or the parity store{did_you_mean(feature, known)}. "
                   f"Fix: use one of: {', '.join(known) or '(none yet)'}", USAGE)
    state = table.features[feature].state.value if table else "unknown"
    produce = ("its shadow traffic records them: send requests through the façade" if state == "shadow" else
               f"`strangler flip {feature} --to shadow` and send it traffic, or `strangler parity run --feature "
               f"{feature} --reference legacy --candidate facade`")
    raise fail(f"no comparisons recorded for {feature!r} (state {state}) in {db.path}. Fix: {produce}", FAILED)


def _report_next(data: dict[str, Any], table: RouteTable | None) -> str | None:
    """After a report where a shadowed feature is equal: its canary flip."""
    if table is None:
        return None
    for name, feat in data["features"].items():
        spec = table.features.get(name)
        if feat["verdict"] == "equal" and spec is not None and spec.state is State.SHADOW:
            return f"strangler flip {name} --to canary --percent 10"
    return None


@parity_app.command("reset")
def reset(feature: Annotated[str, typer.Argument(help="Feature whose recorded comparisons to forget.")],
          store: StoreOpt = None) -> None:
    """Forget FEATURE's recorded comparisons, e.g. after fixing the service, to start a clean shadow phase."""
    with _open_store(store, must_exist=False) as db:
        db.reset(feature)
    _out().print(f"parity store: comparisons of {feature!r} cleared", markup=False)


@parity_app.command("examples")
def examples(feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
             field: Annotated[str | None, typer.Option("--field", help="Only this field.")] = None,
             as_json: JsonOpt = False, store: StoreOpt = None) -> None:
    """Stored mismatch examples with their ids (for `strangler parity export ID`)."""
    with _open_store(store) as db:
        rows = db.examples(feature, field)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2, default=str))
        return
    table = FitTable(Col("id", justify="right", whole=True), Col("feature", whole=True),  # left out for one FEATURE
                     Col("request", squeeze=True), Col("field", squeeze=True, min_width=12), Col("kind"),
                     Col("reference", min_width=20), Col("candidate", min_width=20), title="Mismatch examples")
    for r in rows:
        d = r.difference
        table.add_row(str(r.id), "" if feature else r.feature, f"{r.request['method']} {r.request['path']}", r.field,
                      str(d["kind"]),
                      json.dumps(d["reference"], default=str)[:80], json.dumps(d["candidate"], default=str)[:80])
    _out().print(table if rows else "No mismatch examples stored.")


@parity_app.command("export")
def export(mismatch_id: Annotated[int, typer.Argument(help="Example id (see `strangler parity examples`).")],
           out: Annotated[Path | None, typer.Option(
               "--out", help="Directory for the files (default: var/parity-export in the project).")] = None,
           store: StoreOpt = None, routes: RoutesOpt = None) -> None:
    """Write a curl script and a pytest file reproducing one mismatch against two base URLs (env vars)."""
    with _open_store(store) as db:
        example = db.example(mismatch_id)
    if example is None:
        raise fail(f"no mismatch with id {mismatch_id}. Fix: list them with `strangler parity examples`", FAILED)
    files = export_example(example, out or get_settings().var_dir / "parity-export",
                           _parity_config(_routes(routes), example.feature))
    _out().print(f"curl:   {files.curl}\npytest: {files.test}\nrun: PARITY_REFERENCE_URL=… PARITY_CANDIDATE_URL=… "
                 f"python -m pytest {files.test}", highlight=False)


@parity_app.command("suggest-ignores")
def suggest_ignores(feature: Annotated[str, typer.Argument(help="Feature name.")],
                    write: Annotated[bool, typer.Option("--write", help="Add them to the feature's "
                                                        "parity.ignore in the route table (ledgered).")] = False,
                    store: StoreOpt = None, routes: RoutesOpt = None, relative: RelOpt = 0.20,
                    absolute: AbsOpt = 0.0003, as_json: JsonOpt = False) -> None:
    """Fields that differ legacy-vs-legacy (noise), as ignore rules, and normalisers for fields whose values
    are equal once normalised; --write adds the ignore rules to the table."""
    routes_path = _routes(routes)
    if write:
        try:
            feature_or_error(load_table(routes_path), feature, routes_path)
        except (TableError, FlipError) as exc:
            raise fail(str(exc), 1) from None
    config = _parity_config(routes_path, feature) or ParityConfig()
    with _open_store(store) as db:
        recent = evaluate(feature, db.recent(feature, config.window), config, Thresholds(relative, absolute))
        proposals = normaliser_proposals(db, feature, config)
    suggestions = recent.noise_fields()
    added: list[str] = []
    if write and suggestions:
        try:
            added = add_ignore_rules(routes_path, feature, suggestions, actor=default_actor())
        except FlipError as exc:
            raise fail(str(exc), 1) from None
    if as_json:
        typer.echo(json.dumps({"feature": feature, "suggested": suggestions, "added": added,
                               "normalise": proposals, "noise_samples": recent.noise_samples}, indent=2))
        return
    for line in _suggest_lines(feature, recent.noise_samples, suggestions, proposals):
        _out().print(line, highlight=False)
    if not suggestions:
        return
    if write and added:
        _out().print(f"added {len(added)} rule(s) to {routes_path}; recorded in the ledger.")
    elif write:
        _out().print(f"all already in {routes_path}; nothing written.")


def _suggest_lines(feature: str, noise_samples: int, suggestions: list[str], proposals: dict[str, str]) -> list[str]:
    out = []
    if not suggestions and not noise_samples:
        out.append(f"No noise samples yet for {feature!r}: noise needs legacy asked twice (the feature's "
                   "parity.noise_sample_rate in shadow, or `strangler parity run`).")
    elif not suggestions:
        out.append(f"No field varied between two legacy answers for {feature!r} ({noise_samples} noise samples "
                   "in the recent window): nothing to ignore.")
    else:
        out.append(f"# parity.ignore suggestions for {feature} (they differ legacy-vs-legacy):")
        out.extend(f"- {json.dumps(rule)}" for rule in suggestions)
    if proposals:
        out.append(f"# parity.normalise suggestions for {feature} (equal once normalised; a format change stays "
                   "visible, unlike ignore):")
        out.extend(f"{json.dumps(name)}: {rule}" for name, rule in proposals.items())
    return out


def probe_writes_of(table: RouteTable, feature: str, source: str, store: str | None = None) -> dict[str, Any]:
    """Probe FEATURE's target for the dry-run protocol and record the verdict (store + ledger). Returns
    {"feature", "upstream", "verdict": proven|unsafe|unanswered|not_declared|no_key, "writes_shadowed", "detail"}."""
    feat = feature_or_error(table, feature, source)
    upstream = table.upstreams[feat.target]
    out: dict[str, Any] = {"feature": feature, "upstream": feat.target, "url": upstream.url,
                           "writes_shadowed": False}
    if not upstream.dry_run_writes:
        return {**out, "verdict": "not_declared",
                "detail": f"upstream {feat.target!r} does not declare dry_run_writes: writes are never shadowed"}
    key = secret(protocol.KEY_ENV, get_settings().var_dir)  # the environment's, else this install's saved one
    if not key:
        return {**out, "verdict": "no_key", "detail": f"{protocol.KEY_ENV} is not set (nor in var/secrets.env): "
                "the probe cannot be signed. Fix: export the key the façade and the service share"}
    verdict, detail = probe_now(key, upstream)
    if verdict is None:  # no answer: nothing proven, nothing recorded (the façade probes again itself)
        return {**out, "verdict": "unanswered", "detail": detail}
    with _open_store(store, must_exist=False) as parity:
        record_verdict(parity, default_ledger_path(), feat, feature, feat.target, upstream, verdict, detail,
                       actor=default_actor())
    return {**out, "verdict": verdict, "writes_shadowed": verdict == TARGET_PROVEN,
            "detail": detail if verdict == TARGET_PROVEN else f"{UNSAFE_TEXT}: {detail}"}


def probe_writes_line(result: dict[str, Any]) -> Text:
    """One line for people: green when writes will be shadowed, red otherwise."""
    head = f"{result['feature']} → {result['upstream']}: "
    if result["writes_shadowed"]:
        return Text(head + "dry-run acknowledged — writes will be shadowed", style="green")
    return Text(head + "writes will NOT be shadowed — " + result["detail"], style="bold red")


@parity_app.command("probe-writes")
def probe_writes(feature: Annotated[str, typer.Argument(help="Feature whose target to probe.")],
                 routes: RoutesOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Test FEATURE's target for the dry-run protocol (signed probe route, acknowledgement) before shadowed
    writes reach it; records the verdict in the parity store and the ledger. Exit 1 when writes will not
    be shadowed."""
    routes_path = _routes(routes)
    try:
        result = probe_writes_of(load_table(routes_path), feature, str(routes_path), store)
    except (TableError, FlipError) as exc:
        raise fail(str(exc), 2) from None
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    elif result["writes_shadowed"]:
        _out().print(probe_writes_line(result))
    if not result["writes_shadowed"]:
        raise fail(probe_writes_line(result).plain, FAILED)


# `parity replay` and the `record` group (recorded traffic, issue 22) build on this module's options and store
from strangler.cli import record, replay  # noqa: E402, F401 - registers their commands

