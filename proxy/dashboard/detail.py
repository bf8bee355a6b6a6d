"""What the dashboard shows beyond the overview: honest flip controls, a feature's drill-down and the
difference viewer's examples.

Every figure comes from where the kit already keeps it, judged by the code that already judges it:
- controls ask proxy.flips.precheck (the same rule, gates and evidence figures a flip is recorded with), so
  a button exists only for a move the façade would accept now;
- per-route traffic is the tail of the façade's access log (the metrics carry no route label, on purpose);
- shadow copies' latency and error causes, and the examples, are the parity store's (re-judged under the
  rules in force by proxy.parity.normalise, so "noise" and "rules applied" match `strangler parity report`);
- request headers are shown by NAME only (proxy.parity.redact: secret values never reach the page).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from collections import Counter
from pathlib import Path
from typing import Any

from proxy.evidence import shown
from proxy.flips import FiguresReader, FlipError, Move, figures_from, precheck
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.pretty import answer_lines
from proxy.table import Feature, RouteTable, State

TAIL_BYTES = 2 * 1024 * 1024  # the access log's last 2 MiB: minutes of traffic, read in one go
EXAMPLES = 5
LINES_LIMIT = 400              # lines of one pretty-printed answer shown side by side


def once(reader: FiguresReader) -> FiguresReader:
    """A reader that reads the feature's figures once for all the moves judged in one poll."""
    got: list[Move] = []

    def read(move: Move, rules: Any) -> Move:
        if not got:
            got.append(reader(move, rules))
        return dataclasses.replace(move, figures=got[0].figures, figures_problem=got[0].figures_problem)
    return read


def controls(table: RouteTable, name: str, gates: Any, parity: str | Path | None) -> list[dict[str, Any]]:
    """One entry per other state: allowed now or the refusals, and the evidence the flip would be recorded with.
    Canary is judged at the percent the dialog proposes (10%, or the current one to change it)."""
    feat = table.features[name]
    reader = once(figures_from(parity))
    out = []
    for to in State:
        if to is feat.state and to is not State.CANARY:
            continue
        percent = (feat.canary_percent or 10.0) if to is State.CANARY and feat.state is State.CANARY else (
            10.0 if to is State.CANARY else None)
        try:
            record, reasons = precheck(table, name, to, percent=percent, gates=gates, figures=reader)
        except FlipError as exc:
            record, reasons = None, [str(exc)]
        evidence = record.evidence if record is not None else {}
        out.append({"to": to.value, "percent": percent, "allowed": not reasons, "reasons": reasons,
                    "evidence": evidence,
                    "evidence_text": shown(evidence) if "samples" in evidence else evidence.get(
                        "figures_unavailable", "no parity figures for this move")})
    return out


# ------------------------------------------------------------------------------------------- drill-down
def access_tail(path: str | os.PathLike[str] | None, feature: str, since: float) -> list[dict[str, Any]]:
    """The feature's access-log lines since `since` (epoch s) among the log's last TAIL_BYTES."""
    if not path or not Path(path).exists():
        return []
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        raw = f.read()
    lines = raw.split(b"\n")[1:] if size > TAIL_BYTES else raw.split(b"\n")  # first may be cut
    out = []
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line being written
        if rec.get("feature") == feature and float(rec.get("ts") or 0) >= since:
            out.append(rec)
    return out


def route_traffic(feat: Feature, lines: list[dict[str, Any]], span_s: float) -> list[dict[str, Any]]:
    """Per route template and side: requests, rate, 5xx rate, p50/p95 of the façade's own duration."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    templates = [(" ".join(r.methods), r.path, r.template) for r in feat.routes]
    for rec in lines:
        path = str(rec.get("path") or "").split("?", 1)[0]
        route = next((p for _, p, t in templates if t.match(path) is not None), "(other)")
        groups.setdefault((route, str(rec.get("upstream"))), []).append(rec)
    out = []
    for (route, upstream), recs in sorted(groups.items()):
        durations = sorted(float(r.get("duration_ms") or 0) for r in recs)
        errors = sum(1 for r in recs if int(r.get("status") or 0) >= 500)
        out.append({"route": route, "upstream": upstream, "requests": len(recs),
                    "rate_rps": round(len(recs) / span_s, 2) if span_s > 0 else None,
                    "errors": errors, "error_rate": errors / len(recs),
                    "p50_ms": _pctl(durations, 0.5), "p95_ms": _pctl(durations, 0.95),
                    "fallbacks": sum(1 for r in recs if r.get("fallback"))})
    return out


def shadow_copies(store: Any, name: str, feat: Feature) -> list[dict[str, Any]]:
    """Per route: the recent copies (the parity window), their parity under the rules in force, their own
    latency and why the failed ones failed."""
    from proxy.parity.recent import evaluate

    per_route: dict[str, list[Any]] = {}
    for s in store.recent(name, feat.parity.window):
        per_route.setdefault(s.route, []).append(s)
    out = []
    for route, samples in sorted(per_route.items()):
        latencies = sorted(s.latency_ms for s in samples if s.latency_ms is not None)
        causes = Counter(str(s.detail.get("error") or s.detail.get("label") or s.detail.get("cause") or "error")
                         for s in samples if s.error)
        judged = evaluate(name, samples, feat.parity)
        out.append({"route": route, "copies": len(samples), "errors": sum(1 for s in samples if s.error),
                    "compared": judged.compared, "mismatches": judged.mismatches,
                    "parity_rate": (1 - judged.diff_rate) if judged.compared else None,
                    "p50_ms": _pctl(latencies, 0.5), "p95_ms": _pctl(latencies, 0.95),
                    "error_causes": [{"cause": c, "count": n} for c, n in causes.most_common(5)]})
    return out


def cohort_split(feat: Feature, sides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Configured canary share vs what the window saw reach the target."""
    legacy, target = (sides[s].get("window_requests") or 0 for s in ("legacy", "target"))
    total = legacy + target
    configured = {State.LEGACY: 0.0, State.SHADOW: 0.0, State.CANARY: feat.canary_percent,
                  State.NEW: 100.0, State.RETIRED: 100.0}[feat.state]
    return {"configured_percent": configured, "observed_percent": round(100 * target / total, 1) if total else None,
            "requests": total, "target_requests": target}


# ------------------------------------------------------------------------------------------- examples
def examples_view(store: Any, name: str, feat: Feature, field: str, limit: int = EXAMPLES) -> dict[str, Any]:
    """The stored examples of one differing field, each re-compared under the rules in force."""
    stats = [f for f in store.field_stats(name) if f.field == field]
    verdicts = {f.route: f.verdict.value for f in stats}
    normaliser = Normaliser(feat.parity)
    out = []
    for ex in store.examples(name, field, limit):
        ref, cand = _response(ex.reference), _response(ex.candidate)
        found = normaliser.inspect(ref, cand) if ref is not None and cand is not None else None
        req = ex.request or {}
        out.append({
            "id": ex.id, "route": ex.route, "ts": ex.to_dict()["ts"], "recorded": ex.difference,
            "request": {"method": req.get("method"), "path": req.get("path"),
                        "header_names": req.get("header_names") or sorted({str(h[0]).lower()
                                                                           for h in req.get("headers", [])}),
                        "redacted": req.get("redacted") or []},
            "reference": _side(ex.reference), "candidate": _side(ex.candidate),
            "differences": [d.to_dict() for d in found.differences] if found else [],
            "ignored": [d.path for d in found.ignored] if found else [],
            "normalised": [{"path": d.path, "rule": d.rule} for d in found.normalised] if found else [],
            "verdict": verdicts.get(ex.route, "none"),
            "export": {"command": f"strangler parity export {ex.id}",
                       "curl": f"/ui/export/{ex.id}/curl", "pytest": f"/ui/export/{ex.id}/pytest"},
        })
    return {"feature": name, "field": field, "verdict": _worst(verdicts.values()),
            "rates": [{"route": f.route, "raw_rate": f.counts.raw_rate, "noise_rate": f.counts.noise_rate,
                       "raw": f.counts.raw, "compared": f.counts.compared, "verdict": f.verdict.value}
                      for f in stats],
            "rules": {"ignore": list(feat.parity.ignore),
                      "normalise": {k: str(getattr(v, "value", v)) for k, v in feat.parity.normalise.items()}},
            "ignored_already": field in feat.parity.ignore, "examples": out}


def _response(data: dict[str, Any] | None) -> Response | None:
    if not data:
        return None
    return Response.of(int(data.get("status") or 0), [tuple(h) for h in data.get("headers", [])],
                       str(data.get("body") or ""))


def _side(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """Status, content type and the body as lines, each with the JSON path it shows (for highlighting)."""
    if not data:
        return None
    body = str(data.get("body") or "")
    headers = {str(k).lower(): str(v) for k, v in data.get("headers", [])}
    lines = answer_lines(body)
    return {"status": data.get("status"), "content_type": headers.get("content-type"),
            "truncated": bool(data.get("body_truncated")) or len(lines) > LINES_LIMIT, "lines": lines[:LINES_LIMIT]}


def _worst(verdicts: Any) -> str:
    found = set(verdicts)
    return next((v for v in ("real", "noise") if v in found), "none")


def _pctl(sorted_values: list[float], q: float) -> float | None:
    """Nearest rank (the parity store's definition)."""
    if not sorted_values:
        return None
    return round(sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)], 1)
