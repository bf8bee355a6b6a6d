"""Parity: compare legacy and candidate answers, cancel noise, store and report the differences.

Public API (façade shadow addon, auto-rollback, Locust parity user, CLI):
- normalise: Response, Difference, Normaliser, normaliser_for(ParityConfig)
- result: RequestInfo, ComparisonResult, compare_exchange(...)
- noise: Thresholds, Verdict, FieldCounts, verdict(), NoiseTracker
- store: ParityStore(path).record(result) / .window(feature, last) / .field_stats() / .example(id)
- causes: Cause, classify (one cause per comparison, before its fields); recent: evaluate (causes, rates and
  verdicts over the recent window under the rules in force); rules: the normaliser rules
- redact: Redactor (the one redaction rule: secrets as named placeholders); export: export_example
- report: build_report, render_html (the terminal view: strangler/cli/parity_view.py)
"""
from proxy.parity.noise import FieldCounts, NoiseTracker, Thresholds, Verdict, verdict
from proxy.parity.normalise import Difference, Normaliser, Response, normaliser_for
from proxy.parity.result import ComparisonResult, RequestInfo, compare_exchange
from proxy.parity.store import ParityStore, WindowStats, default_store_path

__all__ = ["ComparisonResult", "Difference", "FieldCounts", "NoiseTracker", "Normaliser", "ParityStore",
           "RequestInfo", "Response", "Thresholds", "Verdict", "WindowStats", "compare_exchange",
           "default_store_path", "normaliser_for", "verdict"]
