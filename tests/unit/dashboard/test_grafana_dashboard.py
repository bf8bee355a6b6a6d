"""grafana/strangler-dashboard.json asks only for what the façade exports: every metric a query (panels, the
feature variable, annotations) names, and every label it selects or groups by, is in a real /metrics scrape of
the admin app with the façade's own addons registered (routing, shadow, rollback)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from dashboard_harness import TOKEN

from proxy.addons.rollback import Rollback
from proxy.addons.shadow import Shadow
from proxy.shadow.metrics import shadow_metrics

DASHBOARD = Path(__file__).resolve().parents[3] / "grafana" / "strangler-dashboard.json"
METRIC = re.compile(r"\b(strangler_[a-z_]+)\b")
SELECTOR = re.compile(r"\{([^}]*)\}")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
LABEL = re.compile(r"([a-z_]+)\s*(?:=~|!~|!=|=)")
SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ")


def queries(dashboard: dict) -> list[str]:
    out = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    out += [a["expr"] for a in dashboard["annotations"]["list"] if "expr" in a]
    out += [v["query"]["query"] for v in dashboard["templating"]["list"] if isinstance(v.get("query"), dict)]
    return out


def scrape(client, facade) -> dict[str, set[str]]:
    """Exported sample names -> their label names, after traffic on every family (a family with no child
    exports no sample, so its labels could not be checked)."""
    shadow = Shadow(facade.state)
    Rollback(facade.state, shadow)
    for status in (200, 503):
        facade.answer(facade.send(facade.flow()), status=status)
    facade.fail(facade.send(facade.flow()))
    m, s = facade.state.metrics, shadow_metrics(facade.state.metrics.registry)
    m.fallbacks.labels("items", "breaker_open").inc()
    m.refusals.labels("body_too_large").inc()
    s.count("items", "copy", "ok")
    s.compared("items", "match")
    s.drop("items", "sampled_out")
    s.watch_in_flight("items", lambda: 1)
    s.rollbacks.labels("items", "error_rate").inc()
    s.rollback_failures.labels("items").inc()
    s.window.labels("items", "diff_rate").set(0.1)
    r = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    exported: dict[str, set[str]] = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, labels = SAMPLE.match(line).groups()
        exported.setdefault(name, set()).update(LABEL.findall(labels or ""))
    return exported


def test_every_query_names_a_metric_and_labels_the_facade_exports(client, facade) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exported = scrape(client, facade)
    exprs = queries(dashboard)
    assert len(exprs) >= 15 and all(METRIC.search(e) for e in exprs), "every query reads a façade metric"
    named: set[str] = set()
    for expr in exprs:
        metrics = set(METRIC.findall(expr))
        missing = metrics - exported.keys()
        assert not missing, f"{expr!r} names {sorted(missing)}, not exported (exported: {sorted(exported)})"
        labels = set().union(*(exported[n] for n in metrics)) | {"le"}
        used = {lab for sel in SELECTOR.findall(expr) for lab in LABEL.findall(sel)}
        used |= {lab.strip() for grp in GROUPING.findall(expr) for lab in grp.split(",") if lab.strip()}
        assert used <= labels, f"{expr!r} uses labels {sorted(used - labels)} its metrics do not have"
        named |= metrics
    # the figures the history keeps are all on the Grafana board too
    assert {"strangler_requests_total", "strangler_request_seconds_bucket", "strangler_shadow_comparisons_total",
            "strangler_shadow_requests_total", "strangler_rollbacks_total", "strangler_table_version"} <= named


def test_the_check_catches_a_metric_the_facade_does_not_export(client, facade) -> None:
    exported = scrape(client, facade)
    assert "strangler_request_seconds_bucket" in exported and "strangler_requests_seconds_bucket" not in exported
    assert set(METRIC.findall('rate(strangler_requests_seconds_bucket{feature="x"}[5m])')) - exported.keys()
