"""load/bench_facade: the callgrind verdict decides only when the timer estimate does not, and the docstring's
defaults are the parser's. No proxy runs here (the benchmark itself needs wrk and valgrind)."""
from __future__ import annotations

import math
import re

import load.bench_facade as bench
from load.bench_facade import RPS_TARGET, instruction_bound, parser


def test_the_bound_is_met_or_missed_only_when_it_holds_with_and_without_the_timer_estimate() -> None:
    met = instruction_bound((8_000_000, 40_000), (8_400_000, 300_000))
    assert met["verdict"] == "met" and met["plausible"]
    assert math.isclose(float(met["raw"]), 8_000_000 / 8_400_000)
    assert math.isclose(float(met["net"]), 7_960_000 / 8_100_000)
    assert met["added"] == 8_100_000 - 7_960_000 and met["added_raw"] == 400_000
    assert instruction_bound((8_000_000, 40_000), (10_000_000, 40_000))["verdict"] == "missed"
    # the figures of a real run: 0.962x with each one's timers subtracted, 0.838x with them counted
    straddles = instruction_bound((8_781_036, 38_736), (10_478_415, 1_389_106))
    assert float(straddles["raw"]) < RPS_TARGET < float(straddles["net"])
    assert straddles["verdict"] == "inconclusive"


def test_a_facade_cheaper_than_bare_mitmdump_is_implausible_and_decides_nothing() -> None:
    cheaper = instruction_bound((8_726_503, 98_151), (8_481_531, 2_270_935))
    assert not cheaper["plausible"] and cheaper["verdict"] == "inconclusive"
    timers_above_count = instruction_bound((8_000_000, 40_000), (8_100_000, 9_000_000))
    assert math.isnan(float(timers_above_count["net"])) and timers_above_count["verdict"] == "inconclusive"


def test_the_docstring_states_the_parsers_defaults() -> None:
    doc = bench.__doc__ or ""
    defaults = vars(parser().parse_args([]))
    stated = dict(re.findall(r"\[--([\w-]+) (\d+)\]", doc))
    assert stated, "the Run: line lists no option with its default"
    assert {name: int(value) for name, value in stated.items()} == \
        {name: defaults[name.replace("-", "_")] for name in stated}
    rounds = re.search(r"default (\d+) rounds of (\d+) s", doc)
    assert rounds is not None and (int(rounds[1]), int(rounds[2])) == (defaults["rounds"], defaults["seconds"])
    assert set(stated) >= {"rounds", "seconds", "connections", "calls", "warm"}
