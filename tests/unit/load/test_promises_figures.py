"""docs/promises.md cites its figures as rows of the generated benchmark table: every «row name» it quotes must
be a figure load/bench_reliability.py writes (else the page points at a row no run produces)."""
from __future__ import annotations

import re
from pathlib import Path

from load.bench_reliability import headlines

DOC = Path(__file__).resolve().parents[3] / "docs" / "promises.md"
RUN = {  # the shape main() collects, with made-up values: only the names are checked
    "fuzz": {s: {"facade_5xx": 0, "upstream_5xx": {"legacy": 1}, "no_answer": 0} for s in ("legacy", "new")},
    "flips": {"flips": 40, "failed": 0}, "broken_table": {"failed": 0},
    "probes": {"results": [{"refused": True}], "foreign_hits": 0},
    "killed": {"failed_until_open": 8, "failures_per_second_until_open": 48.0, "seconds_to_recover": 2.8},
    "soak": {"rss_growth_percent": {"facade": 0.4, "shadow_worker": 2.3}, "failed": 0},
    "oversize": {"answer": "413", "seconds": 0.03},
}

def test_every_row_the_promises_page_cites_is_a_figure_of_the_reliability_bench() -> None:
    cited = set(re.findall(r"«([^»]+)»", DOC.read_text()))
    written = [f["name"] for f in headlines(RUN)]
    assert len(cited) >= 10, cited
    missing = [name for name in sorted(cited - {"like this"}) if not any(
        re.fullmatch(r" \d+ ".join(map(re.escape, name.split(" N "))), w) for w in written)]
    assert missing == [], f"cited in docs/promises.md, written by no run: {missing}; written: {written}"


def test_every_figure_of_the_reliability_bench_is_cited() -> None:
    cited = DOC.read_text()
    uncited = [f["name"] for f in headlines(RUN) if f"«{re.sub(r'during \d+ flips', 'during N flips', f['name'])}»"
               not in cited]
    assert uncited == []
