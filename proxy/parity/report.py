"""Parity reports from the store: one data shape, rendered as a rich table, JSON or self-contained HTML.

HTML embeds its CSS and escapes every value (field paths and bodies come from traffic), and loads nothing
from a CDN, so the file can be attached to a change ticket and opened offline.
"""
from __future__ import annotations

import html
import time
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from proxy.parity.noise import Thresholds
from proxy.parity.store import TARGET_UNSAFE, UNSAFE_TEXT, ParityStore

_VERDICT_STYLE = {"real": "bold red", "noise": "yellow", "none": "dim"}


def build_report(store: ParityStore, feature: str | None = None, *,
                 thresholds: Thresholds | None = None) -> dict[str, Any]:
    """{"generated_at", "store", "thresholds", "features": {name: {totals, routes, fields, suggested_ignores}}}"""
    thresholds = thresholds or store.thresholds
    routes = store.route_stats(feature)
    fields = store.field_stats(feature, thresholds=thresholds)
    features: dict[str, Any] = {}
    for r in routes:
        feat = features.setdefault(r.feature, {"compared": 0, "errors": 0, "noise_samples": 0, "routes": [],
                                               "fields": [], "real_fields": 0})
        feat["compared"] += r.compared
        feat["errors"] += r.errors
        feat["noise_samples"] += r.noise_samples
        feat["routes"].append(r.to_dict())
    for f in fields:
        feat = features[f.feature]
        feat["fields"].append(f.to_dict())
        feat["real_fields"] += f.verdict.value == "real"
    for name, feat in features.items():
        feat["suggested_ignores"] = store.noise_fields(name, thresholds=thresholds)
        feat["window"] = store.window(name).to_dict()
        feat["verdict"] = "mismatch" if feat["real_fields"] else "equal"
    targets = store.targets()
    for upstream, target in targets.items():
        if target["state"] == TARGET_UNSAFE:
            target["says"] = UNSAFE_TEXT
            if target["feature"] in features:
                features[target["feature"]].setdefault("dry_run_unsafe", []).append(upstream)
    return {"generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "store": str(store.path),
            "thresholds": {"relative": thresholds.relative, "absolute": thresholds.absolute},
            "features": features, "dry_run_targets": targets}


def unsafe_lines(report: dict[str, Any]) -> list[str]:
    """One line per dry-run target found unsafe: what every rendering shows first."""
    return [f"{name} (feature {t['feature']}): {UNSAFE_TEXT} — {t['reason']}"
            for name, t in report.get("dry_run_targets", {}).items() if t["state"] == TARGET_UNSAFE]


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def render_rich(report: dict[str, Any]) -> RenderableType:
    warnings = [Text(line, style="bold red") for line in unsafe_lines(report)]
    if not report["features"]:
        return Group(*warnings, Text(f"No comparisons recorded in {report['store']} yet (shadow traffic or "
                                     "`strangler parity run` fills it).", style="yellow"))
    summary = Table(title=f"Parity — {report['store']}")
    for column in ("feature", "compared", "noise samples", "errors", "real fields", "verdict"):
        summary.add_column(column)
    fields = Table(title="Fields that differed (raw = legacy vs candidate, noise = legacy vs legacy)")
    for column in ("feature", "route", "field", "raw rate", "noise rate", "verdict", "examples", "first seen",
                   "last seen"):
        fields.add_column(column, overflow="fold")
    for name, feat in report["features"].items():
        verdict_style = "bold red" if feat["verdict"] == "mismatch" else "green"
        summary.add_row(name, str(feat["compared"]), str(feat["noise_samples"]), str(feat["errors"]),
                        str(feat["real_fields"]), Text(feat["verdict"], style=verdict_style))
        for f in feat["fields"]:
            fields.add_row(name, f["route"], f["field"], f"{_pct(f['raw_rate'])} ({f['raw']}/{f['compared']})",
                           f"{_pct(f['noise_rate'])} ({f['noise']}/{f['noise_samples']})",
                           Text(f["verdict"], style=_VERDICT_STYLE[f["verdict"]]), str(f["examples"]),
                           f["first_seen"] or "-", f["last_seen"] or "-")
    parts: list[RenderableType] = [*warnings, summary, fields]
    for name, feat in report["features"].items():
        if feat["suggested_ignores"]:
            parts.append(Text(f"{name}: noise fields (`strangler parity suggest-ignores {name} --write`): "
                              + ", ".join(feat["suggested_ignores"]), style="yellow"))
    return Group(*parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-family:ui-monospace,monospace}
.real{color:#b00020;font-weight:bold}.noise{color:#a66b00}.none{color:#777}
.mismatch{color:#b00020;font-weight:bold}.equal{color:#1b7f3b;font-weight:bold}
"""


def render_html(report: dict[str, Any]) -> str:
    e = lambda value: html.escape(str(value), quote=True)
    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<title>Parity report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Parity report</h1>",
           f"<p>Generated {e(report['generated_at'])} from <code>{e(report['store'])}</code>. A field is "
           f"<span class='real'>real</span> when legacy-vs-candidate differs more than legacy-vs-legacy by "
           f"more than {report['thresholds']['relative'] * 100:g}% (relative) and "
           f"{report['thresholds']['absolute'] * 100:g}% (absolute).</p>"]
    out.extend(f"<p class='mismatch'>{e(line)}</p>" for line in unsafe_lines(report))
    if not report["features"]:
        out.append("<p>No comparisons recorded yet.</p>")
    for name, feat in report["features"].items():
        out.append(f"<h2>{e(name)} — <span class='{e(feat['verdict'])}'>{e(feat['verdict'])}</span></h2>")
        out.append(f"<p>{feat['compared']} compared, {feat['noise_samples']} noise samples, {feat['errors']} "
                   f"errors; last {feat['window']['samples']}: diff rate {_pct(feat['window']['diff_rate'])}, "
                   f"error rate {_pct(feat['window']['error_rate'])}, p95 {e(feat['window']['p95_ms'])} ms.</p>")
        out.append("<table><tr><th>route</th><th>field</th><th>raw rate</th><th>noise rate</th><th>verdict</th>"
                   "<th>examples</th><th>first seen</th><th>last seen</th></tr>")
        for f in feat["fields"]:
            out.append(f"<tr><td><code>{e(f['route'])}</code></td><td><code>{e(f['field'])}</code></td>"
                       f"<td>{_pct(f['raw_rate'])} ({f['raw']}/{f['compared']})</td>"
                       f"<td>{_pct(f['noise_rate'])} ({f['noise']}/{f['noise_samples']})</td>"
                       f"<td class='{e(f['verdict'])}'>{e(f['verdict'])}</td><td>{f['examples']}</td>"
                       f"<td>{e(f['first_seen'])}</td><td>{e(f['last_seen'])}</td></tr>")
        out.append("</table>")
        if feat["suggested_ignores"]:
            out.append("<p>Suggested ignore rules: " + ", ".join(f"<code>{e(s)}</code>"
                                                                 for s in feat["suggested_ignores"]) + "</p>")
    out.append("</body></html>")
    return "\n".join(out)
