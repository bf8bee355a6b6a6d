"""`strangler parity report` for people: the summary and field tables through output.FitTable, so a route
or a field name is never wrapped ("/api/product s") and timestamps are short; `--json` keeps every value whole.

The data plane's own renderings (HTML, dashboard) stay in proxy/parity/report.py; this one belongs to the
CLI because it fits the terminal the CLI prints on.
"""
from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from proxy.parity.report import cause_lines, unsafe_lines
from strangler.cli.output import Col, FitTable, short_time

_VERDICT_STYLE = {"real": "bold red", "noise": "yellow", "none": "dim"}


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"


def summary_table(report: dict[str, Any]) -> FitTable:
    table = FitTable(Col("feature", whole=True), Col("compared", justify="right", whole=True),
                     Col("noise", justify="right", whole=True), Col("errors", justify="right", whole=True),
                     Col("real fields", justify="right", whole=True), Col("verdict", whole=True),
                     title=f"Parity — {report['store']}")
    for name, feat in report["features"].items():
        table.add_row(name, str(feat["compared"]), str(feat["noise_samples"]), str(feat["errors"]),
                      str(feat["real_fields"]),
                      Text(feat["verdict"], style="bold red" if feat["verdict"] == "mismatch" else "green"))
    return table


def _rate(rate: float, part: int, whole: int) -> str:
    return f"{_pct(rate)} ({part}/{whole})"


def fields_table(report: dict[str, Any]) -> FitTable:
    """Per field: raw and noise rates and verdict; the feature column only when several are reported."""
    several = len(report["features"]) > 1
    table = FitTable(Col("feature", whole=True, keep=False), Col("route", squeeze=True, min_width=12),
                     Col("field", squeeze=True, min_width=12), Col("raw", whole=True), Col("noise", whole=True),
                     Col("verdict", whole=True), Col("examples", justify="right", whole=True, optional=True),
                     Col("first seen", whole=True, optional=True), Col("last seen", whole=True, optional=True),
                     title="Fields that differed (raw = legacy vs candidate, noise = legacy vs legacy; recent window)")
    for name, feat in report["features"].items():
        for f in feat["fields"]:
            table.add_row(name if several else "", f["route"], f["field"],
                          _rate(f["raw_rate"], f["raw"], f["compared"]),
                          _rate(f["noise_rate"], f["noise"], f["noise_samples"]),
                          Text(f["verdict"], style=_VERDICT_STYLE.get(f["verdict"], "")), str(f["examples"]),
                          short_time(f["first_seen"]), short_time(f["last_seen"]))
    return table


def render(report: dict[str, Any], *, fields: bool = False) -> RenderableType:
    """Unsafe dry-run targets first, then the summary, each feature's causes, and (--fields) the field rates."""
    parts: list[RenderableType] = [Text(line, style="bold red") for line in unsafe_lines(report)]
    parts.append(summary_table(report))
    for name, feat in report["features"].items():
        recent = feat["recent"]
        parts.append(Text(f"{name} — causes over the last {recent['compared'] + recent['errors']} comparisons "
                          f"(up to {recent['window']} per route): {recent['mismatches']} mismatched "
                          f"({_pct(recent['diff_rate'])})", style="bold"))
        parts.extend(Text(text, style=style) for text, style in cause_lines(feat))
    if fields:
        parts.append(fields_table(report))
    for name, feat in report["features"].items():
        if feat["suggested_ignores"]:
            parts.append(Text(f"{name}: noise fields (`strangler parity suggest-ignores {name} --write`): "
                              + ", ".join(feat["suggested_ignores"]), style="yellow"))
    return Group(*parts)
