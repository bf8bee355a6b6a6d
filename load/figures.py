"""Headline figures of a benchmark, machine-readable: what `--json FILE` writes and load/bench_all reads.

One shape for every benchmark so the table in docs/benchmarks.md is generated, never copied by hand:
{"bench": name, "command": argv, "figures": [{"name", "value", "unit", "target", "verdict", "interval"?}], ...}.
A verdict is "met", "missed", "inconclusive" (an interval straddles the target) or "info" (no target).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from load.stats import Interval, median_interval, paired_ratios, verdict

VERDICTS = ("met", "missed", "inconclusive", "info")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the headline figures to FILE (JSON)")


def figure(name: str, value: float | int | str, unit: str = "", target: str = "", result: str = "info",
           interval: Interval | None = None) -> dict[str, Any]:
    if result not in VERDICTS:
        raise ValueError(f"verdict {result!r} is not one of {VERDICTS}")
    out: dict[str, Any] = {"name": name, "value": value, "unit": unit, "target": target, "verdict": result}
    if interval is not None:
        out["interval"] = [interval.low, interval.high, round(interval.coverage, 4), interval.n]
    return out


def bounded(name: str, value: float, unit: str, target: float, higher_is_better: bool = True,
            digits: int = 2) -> dict[str, Any]:
    """A single measured figure against a target (>= target when higher is better, else <=)."""
    sign = ">=" if higher_is_better else "<="
    return figure(name, round(value, digits), unit, f"{sign} {target:g}{(' ' + unit) if unit else ''}",
                  verdict(value, value, target, higher_is_better))


def keep_bounded(parser: argparse.ArgumentParser, args: argparse.Namespace, **limits: tuple[int, int]) -> None:
    """Refuse a run that would not end in reasonable time: every named option inside its (low, high), else one
    usage error listing all the limits ("keep runs bounded: --rounds 1..50, …")."""
    if any(not low <= getattr(args, name) <= high for name, (low, high) in limits.items()):
        parser.error("keep runs bounded: " + ", ".join(f"--{name.replace('_', '-')} {low}..{high}"
                                                       for name, (low, high) in limits.items()))


def service_vs_monolith(subject: str, results: Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]],
                        metrics: Sequence[tuple[str, bool]], targets: Mapping[str, float],
                        failed_key: str) -> list[dict[str, Any]]:
    """Print and return, per scenario and metric, the paired ratio service/monolith of interleaved rounds
    (median and 95 % interval) judged against `targets` (metric -> ratio; `metrics` gives (name, higher is
    better)). `results[scenario]["monolith" | "service"]` lists each round's figures; rounds with answers
    counted under `failed_key` get a warning, since their figures are not comparable. A round in which an arm
    completed no request (req/s 0: a stalled machine) has no ratio; it is left out and said so."""
    out: list[dict[str, Any]] = []
    for scenario, arms in results.items():
        pairs = [(m, s) for m, s in zip(arms["monolith"], arms["service"], strict=True)
                 if m.get("req/s", 1) > 0 and s.get("req/s", 1) > 0]
        print(f"\n{scenario}: {'metric':8s} {'monolith':>10s} {'service':>10s}  ratio service/monolith "
              "(median [95 % interval])  verdict")
        if len(pairs) < len(arms["monolith"]):
            print(f"      WARNING: {len(arms['monolith']) - len(pairs)} of {len(arms['monolith'])} {scenario} rounds "
                  "left out: an arm completed no request in them (the machine stalled)")
        if not pairs:
            continue
        for metric, higher_is_better in metrics:
            mono = [m[metric] for m, _ in pairs]
            svc = [s[metric] for _, s in pairs]
            interval = median_interval(paired_ratios(svc, mono))
            target = targets.get(metric)
            result = interval.verdict(target, higher_is_better) if target else "info"
            goal = f"{'>=' if higher_is_better else '<='} {target:g}" if target else ""
            print(f"      {metric:8s} {statistics.median(mono):10.1f} {statistics.median(svc):10.1f}  "
                  f"{interval.text(2)}  {result}{f' (target {goal})' if goal else ''}")
            out.append(figure(f"{subject} {scenario} {metric} service/monolith", round(interval.median, 3), "x",
                              goal, result, interval))
        bad = sum(r[failed_key] for arm in arms.values() for r in arm)
        if bad:
            print(f"      WARNING: {bad:.0f} {failed_key} answers in {scenario} rounds: the figures are not comparable")
    return out


def write(path: Path | None, bench: str, figures: list[dict[str, Any]], **extra: Any) -> None:
    """Write the figures when --json was given (and nothing otherwise)."""
    if path is None:
        return
    argv = [a for i, a in enumerate(sys.argv[1:]) if not a.startswith("--json") and sys.argv[i] != "--json"]
    doc = {"bench": bench, "command": ["python", "-m", f"load.{bench}", *argv], "figures": figures, **extra}
    path.write_text(json.dumps(doc, indent=1, default=str))
