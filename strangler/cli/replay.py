"""`strangler parity replay FEATURE [--cases|--all] [--against SERVICE]`: recorded traffic as parity (issue 22).

The engine is proxy/record/replay.py (reads compared with legacy's answer now, writes with the recorded
one; the shadow comparison: same normaliser, rules and store; the report marks the source). This module
picks the recordings, the target and whether writes may go (only to a target the store says PROVED it
honours dry-run, with the shadow key), prints the summary and exits by the feature's limits
(`promote.max_diff_rate`, `promote.max_error_rate`): 0 within them, 1 above them or when nothing could be
compared, 2 for a bad name.
"""
from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from typing import Annotated

import typer
from strangler_app import protocol

from proxy.common.suggest import did_you_mean
from proxy.flips import FlipError, feature_or_error
from proxy.parity.store import TARGET_PROVEN
from proxy.record.replay import Replayer, Summary, TargetDown
from proxy.record.storage import Recording, RecordingStore
from proxy.table import Feature, TableError, load_table
from strangler.cli import record as recorded  # (a module: `record` may still be importing `parity`)
from strangler.cli.output import FAILED, USAGE, console, fail, note
from strangler.cli.parity import JsonOpt, RoutesOpt, StoreOpt, _routes, parity_app
from strangler.secrets import secret
from strangler.settings import get_settings

PAGE = 1000


@parity_app.command("replay")
def replay(feature: Annotated[str, typer.Argument(help="Feature whose recordings to replay.")],
           every: Annotated[bool, typer.Option("--all/--cases", help="Every kept recording, or one per case "
                                               "(deduplicated, the default).")] = False,
           against: Annotated[str | None, typer.Option("--against", metavar="SERVICE", help="Upstream to replay "
                                                       "against (default: the feature's target).")] = None,
           limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many requests.")] = 100_000,
           concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=256,
                                                    help="Requests in flight.")] = 16,
           noise_rate: Annotated[float | None, typer.Option("--noise-rate", min=0, max=1, help="Share of reads "
                                                            "sent to legacy a second time, the noise sample "
                                                            "(default: parity.noise_sample_rate).")] = None,
           routes: RoutesOpt = None, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Send FEATURE's recorded requests to the candidate and compare (the shadow normaliser and rules): a
    read with legacy's answer now, a write with the recorded answer. Recorded in the parity store (`parity
    report` marks them "replay"). Reads only, unless the target proved it honours dry-run. Exit 1 above the
    feature's promote limits."""
    routes_path = _routes(routes)
    try:
        table = load_table(routes_path)
        spec: Feature = feature_or_error(table, feature, routes_path)
    except (TableError, FlipError) as exc:
        raise fail(str(exc), USAGE) from None
    name = against or spec.target
    if name not in table.upstreams:
        raise fail(f"--against {name!r} is not an upstream of {routes_path}{did_you_mean(name, table.upstreams)}. "
                   f"Fix: use one of: {', '.join(table.upstreams)}", USAGE)
    upstream = table.upstreams[name]
    db, rec = recorded.recordings_of(store)
    with db:
        recorded.known_feature(feature, rec, routes)
        key = secret(protocol.KEY_ENV, get_settings().var_dir) or ""
        proven = db.targets().get(name, {}).get("state") == TARGET_PROVEN
        writes = bool(upstream.dry_run_writes and key and proven)
        replayer = Replayer(feature, spec, upstream, name, table.upstreams[table.default], db, dict(os.environ),
                            writes=writes, key=key, concurrency=concurrency, noise_rate=noise_rate)
        try:
            summary = asyncio.run(replayer.run(_plan(rec, feature, every, limit)))
        except TargetDown as exc:
            raise fail(str(exc), FAILED) from None
    limits = spec.promote
    verdict = _verdict(summary, limits.max_diff_rate, limits.max_error_rate)
    if as_json:
        typer.echo(json.dumps({"feature": feature, "against": name, "url": upstream.url, "writes": writes,
                               "limits": {"max_diff_rate": limits.max_diff_rate,
                                          "max_error_rate": limits.max_error_rate},
                               "verdict": verdict, **summary.to_dict()}, indent=2))
    else:
        _print(feature, name, writes, summary, verdict)
    if verdict:
        raise fail(f"replay of {feature!r} against {name}: {verdict}. Fix: see `strangler parity report {feature}` "
                   "(source: replay)", FAILED)


def _plan(rec: RecordingStore, feature: str, every: bool, limit: int) -> Iterator[tuple[Recording, float]]:
    """(recording, weight): one per case (its newest kept recording, the case's weight), or every kept
    recording page by page (weight 1 each)."""
    sent = 0
    if not every:
        for case in rec.cases(feature):
            found = rec.recording(case.representative) if case.representative else None
            if found is not None and sent < limit:
                sent += 1
                yield found, case.weight
        return
    after = 0
    while sent < limit:
        page = rec.recordings(feature, limit=min(PAGE, limit - sent), after=after)
        if not page:
            return
        for found in page:
            yield found, 1.0
        sent += len(page)
        after = page[-1].id


def _verdict(s: Summary, max_diff: float | None, max_error: float | None) -> str:
    """"" within the limits, else what is wrong."""
    if not s.compared:
        return "nothing compared (every case skipped or needs credentials)"
    if max_diff is not None and s.diff_rate > max_diff:
        return f"{s.differ} of {s.compared - s.errors} answers differ ({s.diff_rate:.1%} > max_diff_rate {max_diff:g})"
    if max_error is not None and s.error_rate > max_error:
        return f"{s.errors} of {s.compared} failed ({s.error_rate:.1%} > max_error_rate {max_error:g})"
    return ""


def _print(feature: str, name: str, writes: bool, s: Summary, verdict: str) -> None:
    out = console()
    out.print(f"replayed {feature} against {name}: {s.compared} compared — {s.equal} equal, {s.differ} differ, "
              f"{s.errors} errors; writes {'sent (dry-run proven)' if writes else 'not sent'}",
              markup=False, highlight=False)
    for rid, method, path, fields in s.differing[:10]:
        out.print(f"  differs: #{rid} {method} {path}: {', '.join(fields)}", markup=False, highlight=False)
    for env, n in sorted(s.needs_credentials.items()):
        generic = env.split("__", 1)[0]
        out.print(f"  needs credentials: {n} case(s) not sent: export {env} (or {generic})", style="yellow",
                  markup=False, highlight=False)
    for reason, n in sorted(s.skipped.items()):
        out.print(f"  skipped {n}: {reason}", markup=False, highlight=False)
    if s.noise_skipped:
        note(s.noise_skipped)
    if not verdict:
        out.print("within the feature's promote limits", style="green")
