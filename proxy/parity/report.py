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

import base64
import html
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
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
        samples = store.recent(name, config.window)
        recent = evaluate(name, samples, config, thresholds)
        # where the recent comparisons came from: shadow traffic, or `strangler parity replay` (issue 22)
        feat["sources"] = dict(sorted(Counter(s.detail.get("source", "shadow") for s in samples).items()))
        for f in recent.fields:
            seen = history.get((name, f["route"], f["field"]))
            f.update(examples=seen.examples if seen else 0, first_seen=seen.to_dict()["first_seen"] if seen else None,
                     last_seen=seen.to_dict()["last_seen"] if seen else None)
        feat.update(recent=recent.to_dict(), groups=recent.to_dict()["groups"], fields=recent.fields,
                    rules_unmatched=recent.rules_unmatched, suggested_ignores=recent.noise_fields(),
                    window=store.window(name).to_dict())
        feat["real_fields"] = sum(f["verdict"] == "real" for f in recent.fields)
        feat["examples"] = _examples(store, name, recent.fields)
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
    if set(feat.get("sources", {})) - {"shadow"}:  # say so whenever replayed requests are among them
        out.append(("source: " + ", ".join(f"{n} {'replayed recordings' if s == 'replay' else s}"
                                           for s, n in feat["sources"].items()), "cyan"))
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


def _examples(store: ParityStore, feature: str, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One stored example per differing field, real ones first (at most EXAMPLES), for the side-by-side view."""
    ranked = sorted(fields, key=lambda f: (f["verdict"] != "real", -f["raw"], f["field"]))
    out = []
    for f in ranked[:EXAMPLES]:
        found = store.examples(feature, f["field"], 1)
        if found:
            out.append({**found[0].to_dict(), "verdict": f["verdict"]})
    return out


EXAMPLES = 3
EXAMPLE_LINES = 60


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def _ms(value: float | None) -> str:
    return "no timed answer" if value is None else f"{value:,.0f} ms"


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
.scroll{max-width:100%;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.85rem}
.real{color:#b00020;font-weight:bold}.noise{color:#a66b00}.none{color:#777}
.mismatch{color:#b00020;font-weight:bold}.equal{color:#1b7f3b;font-weight:bold}
.muted{color:#666;font-size:.9rem}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,320px),1fr));gap:.8rem}
.pair>div{min-width:0}
pre{background:#f8fafc;border:1px solid #ddd;border-radius:6px;padding:.5rem;overflow:auto;max-height:24rem;
margin:.2rem 0}
pre .diff{background:#fee2e2;color:#7f1d1d;font-weight:bold}
dl.terms{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.9rem}
dl.terms dt{font-weight:bold} dl.terms dd{margin:0}
img.footprint{max-width:100%;height:auto;border:1px solid #ddd;border-radius:6px}
"""

# What each figure measures, with its unit and rounding: printed once at the top of every report.
TERMS = (
    ("compared", "exchanges where both sides answered and the answers were compared (count, all time)"),
    ("noise samples", "exchanges where legacy was asked twice, to see what differs between two legacy answers"),
    ("errors", "exchanges where the candidate gave no answer, or a 5xx legacy did not give (count)"),
    ("diff rate", "share of the compared answers in the recent window that differ on a field that is not noise "
                  "(percent, 2 decimals)"),
    ("error rate", "errors / exchanges in the recent window (percent, 2 decimals)"),
    ("p95", "95th percentile of the candidate's answer time over the recent window, nearest rank "
            "(milliseconds, whole ms)"),
    ("raw rate", "share of compared answers where this field differed between legacy and candidate"),
    ("noise rate", "share of noise samples where this field differed between two legacy answers"),
    ("verdict", "real: the candidate differs more than legacy differs from itself; noise: legacy differs too "
                "(an ignore rule candidate); none: not enough evidence"),
)


def _figures(e: Any, feat: dict[str, Any]) -> str:
    w, recent = feat["window"], feat["recent"]
    rows = (("compared", f"{feat['compared']:,}", "answers compared, all time"),
            ("noise samples", f"{feat['noise_samples']:,}", "legacy asked twice, all time"),
            ("errors", f"{feat['errors']:,}", "candidate gave no usable answer, all time"),
            ("recent window", f"{w['samples']:,} exchanges", "the last exchanges the rates below are over"),
            ("diff rate", _pct(w["diff_rate"]), f"{w['mismatches']:,} of the recent answers differ on a real field"),
            ("error rate", _pct(w["error_rate"]), f"{w['errors']:,} of the recent exchanges failed"),
            ("p95", _ms(w["p95_ms"]), "candidate's answer time, 95th percentile"),
            ("causes window", f"{recent['window']:,} per route", "the grouping by cause below is over this many"))
    return ("<div class='scroll'><table><tr><th>figure</th><th>value</th><th>what it measures</th></tr>"
            + "".join(f"<tr><td>{e(a)}</td><td class='num'>{e(b)}</td><td>{e(c)}</td></tr>" for a, b, c in rows)
            + "</table></div>")


def _side_by_side(e: Any, ex: dict[str, Any]) -> str:
    from proxy.parity.pretty import answer_lines

    diff = ex.get("difference") or {}
    marked = {diff.get("path")}
    req = ex.get("request") or {}

    def side(name: str, data: dict[str, Any] | None) -> str:
        if not data:
            return f"<div><b>{name}</b><p class='muted'>no answer stored</p></div>"
        lines = answer_lines(str(data.get("body") or ""))
        shown = "\n".join((f"<span class='diff'>≠ {e(line['text'])}</span>" if line["path"] in marked
                           else f"  {e(line['text'])}") for line in lines[:EXAMPLE_LINES])
        more = f"\n… {len(lines) - EXAMPLE_LINES} more lines" if len(lines) > EXAMPLE_LINES else ""
        return f"<div><b>{name}</b> · status {e(data.get('status'))}<pre>{shown}{e(more)}</pre></div>"

    names = ", ".join(req.get("header_names") or []) or "none"
    return (f"<h4>Example #{e(ex['id'])}: <code>{e(ex['field'])}</code> "
            f"<span class='{e(ex['verdict'])}'>({e(ex['verdict'])})</span></h4>"
            f"<p class='muted'><code>{e(req.get('method'))} {e(req.get('path'))}</code> on route "
            f"<code>{e(ex['route'])}</code> at {e(ex['ts'])}; request headers present: {e(names)} (values of "
            f"secret headers are never stored). {e(diff.get('kind'))} at <code>{e(diff.get('path'))}</code>. "
            f"Reproduce: <code>strangler parity export {e(ex['id'])}</code></p>"
            f"<div class='pair'>{side('legacy', ex.get('reference'))}{side('candidate', ex.get('candidate'))}</div>")


def _footprint(path: Path | None) -> str:
    """The footprint picture `strangler analyze` saved, embedded as an image (nothing to fetch)."""
    if path is None:
        from proxy.env import var_dir

        path = var_dir() / "footprint" / "footprint.svg"
    if not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return ("<h2>SQL footprint</h2><p class='muted'>Modules as boxes, arrows from a module to the owner of the "
            "tables it uses (from <code>strangler analyze</code>).</p>"
            f"<img class='footprint' alt='SQL footprint' src='data:image/svg+xml;base64,{data}'>")


def render_html(report: dict[str, Any], *, footprint: Path | None = None) -> str:
    """The self-contained report; `footprint` is the saved picture (default var/footprint/footprint.svg)."""
    def e(value: object) -> str:
        return html.escape(str(value), quote=True)

    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           "<meta name='viewport' content='width=device-width, initial-scale=1'>",
           "<title>Parity report</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Parity report</h1>",
           f"<p>Generated {e(report['generated_at'])} from <code>{e(report['store'])}</code>. A field is "
           f"<span class='real'>real</span> when legacy-vs-candidate differs more than legacy-vs-legacy by "
           f"more than {report['thresholds']['relative'] * 100:g}% (relative) and "
           f"{report['thresholds']['absolute'] * 100:g}% (absolute).</p>",
           "<details><summary>What each figure measures</summary><dl class='terms'>"
           + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in TERMS) + "</dl></details>"]
    out.extend(f"<p class='mismatch'>{e(line)}</p>" for line in unsafe_lines(report))
    if not report["features"]:
        out.append("<p>No comparisons recorded yet: shadow traffic through the façade or "
                   "<code>strangler parity run</code> records them.</p>")
    for name, feat in report["features"].items():
        out.append(f"<h2>{e(name)} — <span class='{e(feat['verdict'])}'>{e(feat['verdict'])}</span></h2>")
        out.append(_figures(e, feat))
        out.extend(f"<p>{e(line)}</p>" for line, _ in cause_lines(feat)[:1] if line.startswith("source: "))
        out.append(f"<h3>Causes over the last {feat['recent']['window']} comparisons per route</h3><ul>")
        for g in feat["groups"]:
            folded = ", ".join(f"<code>{e(k)}</code> {v}" for k, v in g["fields"].items())
            out.append(f"<li class='{'mismatch' if g['cause'] not in ('noise', 'normalised', 'equal') else 'equal'}'>"
                       f"{e(g['headline'])}{': ' + folded if folded else ''}</li>")
        if not feat["groups"]:
            out.append("<li>No comparison in the recent window.</li>")
        out.extend(f"<li class='noise'>normaliser path <code>{e(p)}</code> matched nothing</li>"
                   for p in feat.get("rules_unmatched", ()))
        out.append("</ul>")
        if not feat["fields"]:
            out.append(f"<p class='equal'>Every compared answer of {e(name)} in the recent window was equal under "
                       "the rules in force: no field differs, so there is nothing to list or show.</p>")
        else:
            out.append("<h3>Fields that differed</h3><div class='scroll'><table><tr><th>route</th><th>field</th>"
                       "<th>raw rate</th><th>noise rate</th><th>verdict</th><th>examples</th><th>first seen</th>"
                       "<th>last seen</th></tr>")
            for f in feat["fields"]:
                out.append(f"<tr><td><code>{e(f['route'])}</code></td><td><code>{e(f['field'])}</code></td>"
                           f"<td class='num'>{_pct(f['raw_rate'])} ({f['raw']}/{f['compared']})</td>"
                           f"<td class='num'>{_pct(f['noise_rate'])} ({f['noise']}/{f['noise_samples']})</td>"
                           f"<td class='{e(f['verdict'])}'>{e(f['verdict'])}</td><td class='num'>{f['examples']}</td>"
                           f"<td>{e(f['first_seen'] or '—')}</td><td>{e(f['last_seen'] or '—')}</td></tr>")
            out.append("</table></div>")
        if feat.get("examples"):
            out.append("<h3>Examples, legacy and candidate side by side</h3>")
            out.extend(_side_by_side(e, ex) for ex in feat["examples"])
        if feat["suggested_ignores"]:
            out.append("<p>Suggested ignore rules: " + ", ".join(f"<code>{e(s)}</code>"
                                                                 for s in feat["suggested_ignores"]) + "</p>")
    out.append(_footprint(footprint))
    out.append("</body></html>")
    return "\n".join(out)
