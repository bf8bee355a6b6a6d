"""The figures a flip is judged by and ledgered with: a feature's recent parity (diff rate, error rate,
samples, p95), read through the parity store's interface (SQLite or PostgreSQL alike).

Why one function: the promotion gate (strangler/promote.py) and every ledger entry of a manual flip
(proxy/flips.py) must show the same numbers the parity report shows, so they use the same recent window
under the rules in force (proxy/parity/recent.py), never a second way of counting.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from proxy.table import ParityConfig


@dataclass(frozen=True, slots=True)
class Figures:
    """One feature's recent parity: `samples` exchanges = `compared` answers + `errors` (the target gave no
    answer or a 5xx legacy did not give); `mismatches` among the compared, under the rules in force."""

    samples: int
    compared: int
    errors: int
    mismatches: int
    p95_ms: float | None
    window: int
    source: str

    @property
    def diff_rate(self) -> float:
        return self.mismatches / self.compared if self.compared else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "diff_rate": round(self.diff_rate, 4), "error_rate": round(self.error_rate, 4)}

    def shown(self) -> str:
        return shown(self.to_dict())


def shown(evidence: dict[str, Any]) -> str:
    """"diff rate 88.0%, error rate 0.0%, 240 samples, p95 31 ms" from figures or a ledger entry's evidence."""
    p95, samples = evidence.get("p95_ms"), evidence.get("samples", 0)
    return (f"diff rate {evidence.get('diff_rate') or 0:.1%}, error rate {evidence.get('error_rate') or 0:.1%}, "
            f"{samples} sample{'s' if samples != 1 else ''}, " + ("no p95" if p95 is None else f"p95 {p95:.0f} ms"))


def recent_figures(location: str | Path, feature: str, rules: ParityConfig) -> Figures:
    """The feature's last `rules.window` exchanges per route in the store at `location`. A SQLite store
    that does not exist yet means no samples (nothing is created); other failures raise (callers decide)."""
    from proxy.parity.recent import evaluate
    from proxy.parity.store import open_store

    if (not isinstance(location, str) or "://" not in location) and not Path(location).exists():
        return Figures(0, 0, 0, 0, None, rules.window, str(location))
    store = open_store(location, background=False)
    try:
        samples, shown = store.recent(feature, rules.window), str(store.path)  # .path never has a password
    finally:
        store.close()
    found = evaluate(feature, samples, rules)
    latencies = sorted(s.latency_ms for s in samples if s.latency_ms is not None)
    p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] if latencies else None
    return Figures(found.compared + found.errors, found.compared, found.errors, found.mismatches,
                   None if p95 is None else round(p95, 1), rules.window, shown)


__all__ = ["Figures", "recent_figures", "shown"]
