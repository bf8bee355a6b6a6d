"""load/bench_shadow_cost: each arm's own timer estimate comes out before the ratio to shadow off, and the
docstring's Run: line states the parser's defaults. No valgrind run here (minutes under callgrind)."""
from __future__ import annotations

import re

import pytest

import load.bench_shadow_cost as bench
from load.bench_shadow_cost import OFF, costs, parser


def test_each_arm_loses_its_own_timers_before_the_ratio_to_shadow_off() -> None:
    got = costs({OFF: (9_300_000, 300_000), "shadow on": (9_800_000, 400_000),
                 "shadow timeout": (9_900_000, 450_000)})
    assert got[OFF] == (9_000_000, 1.0)
    assert got["shadow on"] == (9_400_000, pytest.approx(9_400_000 / 9_000_000))
    assert got["shadow timeout"] == (9_450_000, pytest.approx(1.05))


def test_the_docstring_states_the_parsers_defaults() -> None:
    stated = dict(re.findall(r"\[--([\w-]+) (\d+)\]", bench.__doc__ or ""))
    defaults = vars(parser().parse_args([]))
    assert set(stated) == {"calls", "warm"}
    assert {name: int(value) for name, value in stated.items()} == {name: defaults[name] for name in stated}
