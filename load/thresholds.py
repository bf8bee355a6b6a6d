"""Pass/fail thresholds for a Locust run, decided when Locust quits (so CI gets a meaningful exit code).

Options (or env): --max-fail-ratio (STRANGLER_MAX_FAIL_RATIO, a fraction), --max-p95-ms
(STRANGLER_MAX_P95_MS), --max-mismatch-rate (STRANGLER_MAX_MISMATCH_RATE, a fraction of compared requests).
When any is set, the exit code is 1 if one is crossed (each printed) and 0 otherwise; when none is set,
Locust's own rule applies (non-zero on any failure). Runs on the master / local runner only, where the
stats of all --processes workers are aggregated.
"""
from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any

from locust import events
from locust.runners import WorkerRunner

REFERENCE_PREFIX = "[reference] "   # stats rows of the parity run's reference requests
PARITY_ERROR = "parity mismatch"    # failure messages of real parity differences start with this
_FIELDS = re.compile(r"parity mismatch: ([^'\"]+?)(?: \+\d+ more)?['\"]?\)?$")


@dataclass(frozen=True)
class Limits:
    max_fail_ratio: float | None = None
    max_p95_ms: float | None = None
    max_mismatch_rate: float | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.max_fail_ratio, self.max_p95_ms, self.max_mismatch_rate))


@dataclass(frozen=True)
class Outcome:
    requests: int
    fail_ratio: float
    p95_ms: float | None
    compared: int
    mismatches: int
    mismatch_fields: dict[str, int]
    failures: list[str]

    @property
    def mismatch_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0


def evaluate(stats: Any, limits: Limits) -> Outcome:
    """Check Locust RequestStats against the limits; `failures` names each crossed threshold."""
    total = stats.total
    p95 = total.get_response_time_percentile(0.95) if total.num_requests else None
    fields: Counter[str] = Counter()
    mismatches = 0
    for err in stats.errors.values():
        if PARITY_ERROR in str(err.error):
            mismatches += err.occurrences
            match = _FIELDS.search(str(err.error))
            for name in (match.group(1).split(", ") if match else ["?"]):
                fields[name] += err.occurrences
    compared = sum(e.num_requests for e in stats.entries.values() if not e.name.startswith(REFERENCE_PREFIX))
    outcome = Outcome(total.num_requests, total.fail_ratio, p95, compared, mismatches, dict(fields), [])
    failures = outcome.failures
    if limits.any and total.num_requests == 0:
        failures.append("no requests were made (is the target up? see the log above)")
    if limits.max_fail_ratio is not None and total.fail_ratio > limits.max_fail_ratio:
        failures.append(f"fail ratio {total.fail_ratio:.2%} > {limits.max_fail_ratio:.2%} (--max-fail-ratio)")
    if limits.max_p95_ms is not None and p95 is not None and p95 > limits.max_p95_ms:
        failures.append(f"p95 {p95:g} ms > {limits.max_p95_ms:g} ms (--max-p95-ms)")
    if limits.max_mismatch_rate is not None and outcome.mismatch_rate > limits.max_mismatch_rate:
        worst = ", ".join(f"{f} ({n})" for f, n in Counter(fields).most_common(5))
        failures.append(f"parity mismatch rate {outcome.mismatch_rate:.2%} > {limits.max_mismatch_rate:.2%} "
                        f"(--max-mismatch-rate); differing fields: {worst}")
    return outcome


def limits_from(options: Any) -> Limits:
    return Limits(getattr(options, "max_fail_ratio", None), getattr(options, "max_p95_ms", None),
                  getattr(options, "max_mismatch_rate", None))


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:

    parser.add_argument("--max-fail-ratio", type=float, env_var="STRANGLER_MAX_FAIL_RATIO", default=None,
                       help="fail the run above this failure fraction", include_in_web_ui=False)
    parser.add_argument("--max-p95-ms", type=float, env_var="STRANGLER_MAX_P95_MS", default=None,
                       help="fail the run above this p95 (ms)", include_in_web_ui=False)
    parser.add_argument("--max-mismatch-rate", type=float, env_var="STRANGLER_MAX_MISMATCH_RATE", default=None,
                       help="fail the run above this parity mismatch fraction", include_in_web_ui=False)


@events.quitting.add_listener
def _decide_exit_code(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or environment.runner is None:
        return
    limits = limits_from(environment.parsed_options)
    outcome = evaluate(environment.runner.stats, limits)
    p95 = "-" if outcome.p95_ms is None else f"{outcome.p95_ms:g} ms"
    summary = f"strangler: {outcome.requests} requests, fail ratio {outcome.fail_ratio:.2%}, p95 {p95}"
    if outcome.compared and (outcome.mismatches or limits.max_mismatch_rate is not None):
        summary += f", parity mismatches {outcome.mismatches}/{outcome.compared} ({outcome.mismatch_rate:.2%})"
    print(summary, file=sys.stderr)
    for name, count in sorted(outcome.mismatch_fields.items(), key=lambda kv: -kv[1]):
        print(f"strangler: parity mismatch on field {name}: {count} requests", file=sys.stderr)
    for failure in outcome.failures:
        print(f"strangler: THRESHOLD FAILED: {failure}", file=sys.stderr)
    if limits.any:
        environment.process_exit_code = 1 if outcome.failures else 0
