"""`strangler record status | list | show | cases | prune | export`: the traffic the façade recorded (issue 22).

The façade records per feature (`record:` in the route table; the top-level `record:` for the default
upstream's traffic, filed under the feature "-") into the parity store; these commands read it there.
`strangler parity replay` (strangler/cli/replay.py) and `strangler load --from-recording` use the same cases.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
import yaml

from proxy.common.files import atomic_write
from proxy.common.suggest import did_you_mean
from proxy.parity.export import export_cases
from proxy.parity.store import ParityStore
from proxy.record.config import DEFAULT_FEATURE
from proxy.record.mix import build_mix, parse_speed
from proxy.record.storage import Case, Recording, RecordingStore
from proxy.table import ParityConfig
from strangler.cli.app import app
from strangler.cli.output import FAILED, USAGE, Col, FitTable, console, fail, next_step, note, short_time
from strangler.cli.parity import JsonOpt, RoutesOpt, StoreOpt, _open_store, _routes, _table_or_none
from strangler.settings import get_settings

record_app = typer.Typer(help="Recorded traffic: status, list, show, cases (deduplicated), prune, export.",
                         no_args_is_help=True)
app.add_typer(record_app, name="record")
FeatureArg = Annotated[str, typer.Argument(help="Feature name (\"-\": the default upstream's traffic).")]


def recordings_of(store: str | None) -> tuple[ParityStore, RecordingStore]:
    db = _open_store(store)
    return db, RecordingStore(db)


def known_feature(feature: str, recorded: RecordingStore, routes: Path | None) -> None:
    """Exit 2 for a name neither the table nor the recordings know (with the closest); exit 1 when the
    feature is known but nothing of it was recorded (saying how to record it)."""
    if feature in recorded.features():
        return
    table = _table_or_none(_routes(routes))
    known = sorted({*recorded.features(), *(table.features if table else ())})
    if feature not in known and feature != DEFAULT_FEATURE:
        raise fail(f"no feature {feature!r} in the route table or the recordings{did_you_mean(feature, known)}. "
                   f"Fix: use one of: {', '.join(known) or '(none yet)'}", USAGE)
    where = "at the top of the route table" if feature == DEFAULT_FEATURE else f"under features.{feature}"
    raise fail(f"nothing recorded for {feature!r} yet. Fix: add `record: {{rate: 0.05}}` {where} and send it "
               "traffic through the façade while legacy serves it", FAILED)


@record_app.command("status")
def status(store: StoreOpt = None, routes: RoutesOpt = None, as_json: JsonOpt = False) -> None:
    """Per feature: requests recorded (all time), cases, recordings kept and their size against record.max_mb,
    truncated ones; a redaction rule that matched nothing is warned about."""
    table = _table_or_none(_routes(routes))
    db, rec = recordings_of(store)
    with db:
        rows = rec.status()
    limits = {name: f.record.max_mb for name, f in (table.features.items() if table else ()) if f.record}
    if table is not None and table.record is not None:
        limits[DEFAULT_FEATURE] = table.record.max_mb
    warnings = [f"record.redact rule {r['rule']} of {row['feature']!r} matched none of {r['checked']} recordings. "
                "Fix: check its spelling against `strangler record show ID`"
                for row in rows for r in row["rules"] if r["checked"] and not r["matched"]]
    if as_json:
        typer.echo(json.dumps({"features": rows, "max_mb": limits, "warnings": warnings}, indent=2))
        return
    if not rows:
        raise fail(f"no recordings in {db.path} yet. Fix: add `record: {{rate: 0.05}}` to a feature of the route "
                   "table and send it traffic through the façade", FAILED)
    out = FitTable(Col("feature", whole=True), Col("recorded", justify="right"), Col("cases", justify="right"),
                   Col("kept", justify="right"), Col("size", justify="right"), Col("truncated", justify="right"),
                   Col("newest"), title=f"Recordings in {db.path}")
    for row in rows:
        cap = limits.get(row["feature"])
        out.add_row(row["feature"], str(row["recorded"]), str(row["cases"]), str(row["kept"]),
                    f"{row['bytes'] / 1048576:.1f} MB" + (f" of {cap:g}" if cap else ""), str(row["truncated"]),
                    short_time(row["newest"]))
    console().print(out)
    for line in warnings:
        console().print(line, style="yellow", markup=False, highlight=False)


@record_app.command("list")
def list_(feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
          case: Annotated[str | None, typer.Option("--case", help="Only this case (signature).")] = None,
          limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")] = 50,
          after: Annotated[int, typer.Option("--after", min=0, help="Only ids above this (paging).")] = 0,
          store: StoreOpt = None, routes: RoutesOpt = None, as_json: JsonOpt = False) -> None:
    """Recorded exchanges, oldest kept first, with their ids (for `strangler record show ID`)."""
    db, rec = recordings_of(store)
    with db:
        if feature is not None:
            known_feature(feature, rec, routes)
        rows = rec.recordings(feature, limit=limit, after=after, signature=case)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    out = FitTable(Col("id", justify="right", whole=True), Col("feature", whole=True), Col("time"),
                   Col("request", squeeze=True), Col("status", justify="right"), Col("ms", justify="right"),
                   Col("case"), Col("note", optional=True), title="Recorded exchanges")
    for r in rows:
        out.add_row(str(r.id), "" if feature else r.feature, short_time(r.ts), f"{r.method} {r.path}", str(r.status),
                    f"{r.latency_ms:.0f}" if r.latency_ms is not None else "", r.signature, _note(r))
    console().print(out if rows else "No recordings.")


def _note(r: Recording) -> str:
    cut = [side for side, part in (("request", r.request), ("answer", r.response)) if part.get("body_truncated")]
    return f"{' and '.join(cut)} body cut at record.body_limit" if cut else ""


@record_app.command("show")
def show(recording_id: Annotated[int, typer.Argument(help="Recording id (see `strangler record list`).")],
         store: StoreOpt = None) -> None:
    """One recorded exchange as stored (redacted: secrets are ${STRANGLER_REPLAY_…} placeholders)."""
    db, rec = recordings_of(store)
    with db:
        found = rec.recording(recording_id)
    if found is None:
        raise fail(f"no recording with id {recording_id}. Fix: list them with `strangler record list`", FAILED)
    typer.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))


@record_app.command("cases")
def cases(feature: FeatureArg, store: StoreOpt = None, routes: RoutesOpt = None, as_json: JsonOpt = False) -> None:
    """FEATURE's recordings grouped by signature (method, route, query keys, body shape), with their counts
    and weights: what `parity replay --cases`, `load --from-recording` and `record export` use."""
    db, rec = recordings_of(store)
    with db:
        known_feature(feature, rec, routes)
        found = rec.cases(feature)
    if as_json:
        typer.echo(json.dumps([c.to_dict() for c in found], indent=2))
        return
    total = sum(c.count for c in found)
    out = FitTable(Col("case", whole=True), Col("count", justify="right"), Col("weight", justify="right"),
                   Col("request", squeeze=True), Col("body", squeeze=True, optional=True),
                   Col("replay id", justify="right"),
                   title=f"{feature}: {total} recorded requests in {len(found)} cases")
    for c in found:
        query = "?" + "&".join(c.query_keys) if c.query_keys else ""
        out.add_row(c.signature, str(c.count), f"{c.weight * 100:.1f}%", f"{c.method} {c.route}{query}",
                    c.body_shape, str(c.representative) if c.representative else "pruned")
    console().print(out)
    next_step(f"strangler parity replay {feature} --cases")


@record_app.command("prune")
def prune(feature: Annotated[str | None, typer.Argument(help="Only this feature.")] = None,
          keep: Annotated[int, typer.Option("--keep", min=0, help="Keep the newest N recordings per feature.")] = 0,
          with_cases: Annotated[bool, typer.Option("--cases", help="Also forget the case counts (weights).")] = False,
          store: StoreOpt = None) -> None:
    """Delete recordings (all, or FEATURE's) but the newest --keep; case counts stay unless --cases."""
    db, rec = recordings_of(store)
    with db:
        deleted = rec.prune(feature, keep=keep, cases=with_cases)
    console().print(f"deleted {deleted} recording(s){' and the case counts' if with_cases else ''}", markup=False)


@record_app.command("export")
def export(feature: FeatureArg,
           pytest_dir: Annotated[Path, typer.Option("--pytest", help="Directory for the pytest file.")],
           store: StoreOpt = None, routes: RoutesOpt = None) -> None:
    """Write FEATURE's deduplicated cases as one pytest file whose expected values are the recorded legacy
    answers under the feature's parity rules: a contract test for the new service's own repository."""
    table = _table_or_none(_routes(routes))
    spec = table.features.get(feature) if table else None
    db, rec = recordings_of(store)
    with db:
        known_feature(feature, rec, routes)
        found: list[tuple[Case, Recording]] = []
        for c in rec.cases(feature):
            kept = rec.recording(c.representative) if c.representative else None
            if kept is not None:
                found.append((c, kept))
    result = export_cases(feature, found, pytest_dir, spec.parity if spec else ParityConfig())
    for line in result.notes:
        note(line)
    console().print(f"pytest: {result.path} ({result.cases} cases)\nrun: RECORDED_TARGET_URL=http://127.0.0.1:PORT "
                    f"python -m pytest {result.path}", highlight=False, markup=False)
    if not result.cases:
        raise fail(f"no case of {feature!r} could be exported (see the lines above). Fix: record reads of it "
                   "with a whole body", FAILED)


def recorded_mix_file(target: str, store: str | None, routes: Path | None, *, writes: bool, speed: str | None,
                      users: int) -> tuple[Path, float | None]:
    """`strangler load --from-recording FEATURE|all`: the recorded cases as a mix file in var/locust (no secret
    in it: redacted headers stay ${STRANGLER_REPLAY_…} references), and the wait per user that paces the run
    at the observed rate × speed (None: no --speed, as fast as the users go)."""
    factor = None
    if speed is not None:
        try:
            factor = parse_speed(speed)
        except ValueError as exc:
            raise fail(f"{exc}. Fix: write --speed 2x (twice the recorded rate) or --speed 0.5x", USAGE) from None
    table = _table_or_none(_routes(routes))
    db, rec = recordings_of(store)
    with db:
        if target != "all":
            known_feature(target, rec, routes)
        features = rec.features() if target == "all" else [target]
        picked = [(f, c, rec.recording(c.representative) if c.representative else None)
                  for f in features for c in rec.cases(f)]
    rates = {name: f.record.rate for name, f in (table.features.items() if table else ()) if f.record}
    if table is not None and table.record is not None:
        rates[DEFAULT_FEATURE] = table.record.rate
    mix = build_mix(picked, os.environ, writes=writes, sample_rates=rates)
    for line in mix.notes:
        note(line)
    if not mix.entries:
        raise fail(f"no recorded case of {target!r} can be sent as load (see the lines above). Fix: record reads "
                   "through the façade, set the STRANGLER_REPLAY_* variables named, or add --writes", FAILED)
    out = get_settings().var_dir / "locust" / f"recorded-{'all' if target == 'all' else _safe(target)}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, "# generated by `strangler load --from-recording` from the recorded cases\n" +
                 yaml.safe_dump(mix.document(), sort_keys=False, allow_unicode=True))
    note(f"recorded mix: {len(mix.entries)} cases standing for {mix.requests} recorded requests → {out}")
    if factor is None:
        return out, None
    if mix.rate is None:
        raise fail("--speed needs the recorded rate, and the recordings span no time yet. Fix: record longer, or "
                   "drop --speed", FAILED)
    note(f"pace: observed {mix.rate:.2f} req/s × {factor:g} = {mix.rate * factor:.2f} req/s over {users} users")
    return out, users / (mix.rate * factor)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "default"
