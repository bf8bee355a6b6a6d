"""Parity reports from the store: one data shape, rendered as JSON or self-contained HTML here, and for the
terminal by strangler/cli/parity_view.py (from `cause_lines` and `unsafe_lines`).

Causes first: each feature's recent window (the last `parity.window` comparisons per route, under the rules
in force now — proxy/parity/recent.py) is grouped by cause ("200 → 403 on 117 requests, all carrying
Authorization") with the fields folded under each group; the per-field rates and verdicts stay available
(`--fields` in the CLI, always in JSON and HTML). History totals are kept beside the window.

HTML embeds its CSS and escapes every value (field paths and bodies come from traffic), and loads nothing
from a CDN, so the file can be attached to a change ticket and opened offline.
"""
from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from proxy.common.clock import stamp
from proxy.parity.noise import Thresholds
from proxy.parity.recent import evaluate
from proxy.parity.store import TARGET_UNSAFE, UNSAFE_TEXT, ParityStore
from proxy.table import ParityConfig

_DEFAULT_RULES = ParityConfig()


def build_report(store: ParityStore, feature: str | None = None, *, thresholds: Thresholds | None = None,
                 rules: Mapping[str, ParityConfig] | None = None) -> dict[str, Any]:
    """{"generated_at", "store", "thresholds", "features": {name: {history totals, groups, fields, ...}}}.
    `rules` are the features' parity rules in force (default rules for a feature not given)."""
    thresholds = thresholds or store.thresholds
    history = {(f.feature, f.route, f.field): f for f in store.field_stats(feature, thresholds=thresholds)}
    features: dict[str, Any] = {}
    for r in store.route_stats(feature):
        feat = features.setdefault(r.feature, {"compared": 0, "errors": 0, "noise_samples": 0, "routes": []})
        feat["compared"] += r.compared
        feat["errors"] += r.errors
        feat["noise_samples"] += r.noise_samples
        feat["routes"].append(r.to_dict())
    for name, feat in features.items():
        config = (rules or {}).get(name) or _DEFAULT_RULES
        recent = evaluate(name, store.recent(name, config.window), config, thresholds)
        for f in recent.fields:
            seen = history.get((name, f["route"], f["field"]))
            f.update(examples=seen.examples if seen else 0, first_seen=seen.to_dict()["first_seen"] if seen else None,
                     last_seen=seen.to_dict()["last_seen"] if seen else None)
        feat.update(recent=recent.to_dict(), groups=recent.to_dict()["groups"], fields=recent.fields,
                    rules_unmatched=recent.rules_unmatched, suggested_ignores=recent.noise_fields(),
                    window=store.window(name).to_dict())
        feat["real_fields"] = sum(f["verdict"] == "real" for f in recent.fields)
        feat["verdict"] = "mismatch" if feat["real_fields"] else "equal"
    targets = store.targets()
    for upstream, target in targets.items():
        if target["state"] == TARGET_UNSAFE:
            target["says"] = UNSAFE_TEXT
            if target["feature"] in features:
                features[target["feature"]].setdefault("dry_run_unsafe", []).append(upstream)
    return {"generated_at": stamp(), "store": str(store.path),
            "thresholds": {"relative": thresholds.relative, "absolute": thresholds.absolute},
            "features": features, "dry_run_targets": targets}


def cause_lines(feat: dict[str, Any]) -> list[tuple[str, str]]:
    """(text, style) lines: each cause's headline, its fields folded under it; then unmatched normalisers."""
    verdicts = {f["field"]: f["verdict"] for f in feat["fields"]}
    out = []
    for g in feat["groups"]:
        style = "bold red" if g["cause"] not in ("noise", "normalised", "equal") else "green"
        out.append((g["headline"], style))
        for name, n in list(g["fields"].items())[:8]:
            out.append((f"    {name}: {n} of {g['count']}" + (f" ({verdicts[name]})" if name in verdicts else ""),
                        "dim"))
        if len(g["fields"]) > 8:
            out.append((f"    … {len(g['fields']) - 8} more fields (--fields)", "dim"))
    out.extend((f"normaliser path {p} matched nothing in the last comparisons: check the path", "yellow")
               for p in feat.get("rules_unmatched", ()))
    return out


def unsafe_lines(report: dict[str, Any]) -> list[str]:
    """One line per dry-run target found unsafe: what every rendering shows first."""
    return [f"{name} (feature {t['feature']}): {UNSAFE_TEXT} — {t['reason']}"
            for name, t in report.get("dry_run_targets", {}).items() if t["state"] == TARGET_UNSAFE]


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} code{font-family:ui-monospace,monospace}
.real{color:#b00020;font-weight:bold}.noise{color:#a66b00}.none{color:#777}
.mismatch{color:#b00020;font-weight:bold}.equal{color:#1b7f3b;font-weight:bold}
"""


def render_html(report: dict[str, Any]) -> str:
    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

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
        out.append(f"<h3>Causes over the last {feat['recent']['window']} comparisons per route</h3><ul>")
        for g in feat["groups"]:
            folded = ", ".join(f"<code>{e(k)}</code> {v}" for k, v in g["fields"].items())
            out.append(f"<li class='{'mismatch' if g['cause'] not in ('noise', 'normalised', 'equal') else 'equal'}'>"
                       f"{e(g['headline'])}{': ' + folded if folded else ''}</li>")
        out.extend(f"<li class='noise'>normaliser path <code>{e(p)}</code> matched nothing</li>"
                   for p in feat.get("rules_unmatched", ()))
        out.append("</ul>")
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
