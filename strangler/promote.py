"""Flip gate: a move up the ladder (to canary from below or a higher percent, to new from below, skipped
rungs included) needs evidence — the feature's recent parity within its `promote:` limits over at least
`promote.min_samples` comparisons. Moves down, to shadow and to retired are not judged here.

The figures come from proxy.flips (read once per flip from the parity store, the same recent window the
parity report shows, and written into the ledger entry either way); this gate only compares them. Registered
by the launcher like the other kit gates (strangler/gates.py), so `strangler flip`, the admin API and the
dashboard refuse the same flips.
"""
from __future__ import annotations

from typing import Any

from proxy.flips import current_move


def promote_gate(table: Any, feature: str, to_state: Any) -> list[str]:
    """`Gate` for flip_feature. Empty list = allowed."""
    move = current_move()
    if move is None or not move.promotes:
        return []
    limits = table.features[feature].promote
    rung = move.to_state.value + (f" {move.to_percent:g}%" if move.to_percent is not None else "")
    if move.figures is None:
        return [f"promotion to {rung} needs {feature!r}'s recent parity, which could not be read "
                f"({move.figures_problem or 'not read'}). Fix: check the parity store "
                "(`strangler parity report " + feature + "`), or --force if you accept flying blind"]
    f, reasons = move.figures, []
    if f.samples < limits.min_samples:
        reasons.append(f"only {f.samples} recent comparison{'s' if f.samples != 1 else ''} of {feature!r} "
                       f"(promote.min_samples {limits.min_samples})")
    for name, value, limit, unit in (("max_diff_rate", f.diff_rate, limits.max_diff_rate, "%"),
                                     ("max_error_rate", f.error_rate, limits.max_error_rate, "%"),
                                     ("max_p95_ms", f.p95_ms, limits.max_p95_ms, "ms")):
        if limit is not None and value is not None and f.samples and value > limit:
            shown = f"{value:.1%} > {limit:.1%}" if unit == "%" else f"{value:.0f} ms > {limit:g} ms"
            reasons.append(f"{name.removeprefix('max_').replace('_', ' ')} {shown} (promote.{name})")
    if not reasons:
        return []
    too_few = f.samples < limits.min_samples
    fix = _fix(feature, move.from_state.value, too_few, breached=len(reasons) > too_few)
    return [f"promotion of {feature!r} to {rung} is not backed by its recent parity ({f.shown()}): "
            + "; ".join(reasons) + f". Fix: {fix}"]


def _fix(feature: str, from_state: str, too_few: bool, breached: bool) -> str:
    fixes = []
    if breached:
        fixes.append(f"fix the differences `strangler parity report {feature}` groups by cause (ignore or normalise "
                     f"what is noise), or loosen features.{feature}.promote in the route table")
    if too_few:
        fixes.append(("shadow it (`strangler flip " + feature + " --to shadow`) and send traffic"
                      if from_state == "legacy" else "send more traffic through the façade (or `strangler parity "
                      "run`)") + f" until `strangler parity report {feature}` has enough comparisons")
    return "; then ".join(fixes)
