"""docs/benchmarks.md is what load/bench_all.py writes: same headings and table columns, every benchmark listed.
Rendered from a stored sample run; no benchmark runs here."""
from __future__ import annotations

import re
from pathlib import Path

from load.bench_all import BENCHES, COLUMNS, HEADINGS, LONG, left_out, render

DOC = Path(__file__).resolve().parents[3] / "docs" / "benchmarks.md"
SAMPLE = {
    "start": "2026-12-06 19:00:00 UTC", "end": "2026-12-06 19:12:00 UTC", "seconds": 720.0, "full": False,
    "machine": {"nproc": 2, "model": "Example CPU", "python": "3.13.0", "system": "Linux 6.1"},
    "load_before": [7.5, 6.2, 6.0], "load_after": [9.1, 7.0, 6.4],
    "benches": [
        {"bench": "bench_facade", "command": ["python", "-m", "load.bench_facade", "--rounds", "10"], "status": "ran",
         "seconds": 300.0, "exit": 0, "figures": [
             {"name": "req/s façade / bare mitmdump", "value": 0.93, "unit": "x", "target": ">= 0.9x",
              "verdict": "inconclusive", "interval": [0.85, 1.01, 0.9785, 10]},
             {"name": "instructions/request, façade (callgrind)", "value": 9100000, "unit": "instr", "target": "",
              "verdict": "info"}]},
        {"bench": "bench_nginx", "command": ["python", "-m", "load.bench_nginx"], "status": "skipped",
         "reason": "nginx not installed. Fix: apt-get install -y nginx"},
        {"bench": "bench_match", "command": ["python", "-m", "load.bench_match"], "status": "failed", "seconds": 3.0,
         "reason": "exit 1: ValueError: x|y"}],
}


def _headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


def test_the_rendered_table_has_every_part_and_says_inconclusive_with_its_interval() -> None:
    text = render(SAMPLE)
    assert _headings(text) == list(HEADINGS)
    assert COLUMNS in text.splitlines()
    assert "| bench_facade | req/s façade / bare mitmdump | 0.930 x [0.850, 1.01] (98%, n=10) | >= 0.9x | " \
           "inconclusive | `python -m load.bench_facade --rounds 10` |" in text
    assert "9,100,000 instr" in text
    assert "| skipped: nginx not installed. Fix: apt-get install -y nginx |" in text
    assert "failed: exit 1: ValueError: x\\|y" in text  # a pipe in a reason does not break the table
    assert "load average (1 / 5 / 15 min): before 7.5 / 6.2 / 6.0, after 9.1 / 7.0 / 6.4" in text
    assert "2 cores (nproc), Example CPU" in text


def test_docs_benchmarks_md_is_what_bench_all_writes() -> None:
    doc = DOC.read_text()
    assert _headings(doc) == _headings(render(SAMPLE))
    assert COLUMNS in doc.splitlines()
    listed = set(re.findall(r"^\| (bench_\w+) \|", doc, re.M))
    assert listed == set(BENCHES), f"regenerate with python -m load.bench_all (missing: {set(BENCHES) - listed})"


def test_a_long_benchmark_is_listed_as_skipped_in_a_quick_run_and_runs_when_named() -> None:
    assert LONG and set(LONG) <= set(BENCHES)
    name = next(iter(LONG))
    row = left_out(name, full=False, only=None)
    assert row is not None and row["status"] == "skipped"
    assert f"Fix: python -m load.bench_all --only {name}" in row["reason"]
    assert left_out(name, full=False, only=[name]) is None and left_out(name, full=True, only=None) is None
    assert left_out("bench_match", full=False, only=None) is None
