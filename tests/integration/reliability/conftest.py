"""Fixtures of the reliability tests: the façade integration stack (tiny upstreams, fast) and the demo stack
as `strangler up` runs it (load/reliability/stack.py, shared with load/bench_reliability.py)."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))

from facade_stack import stack  # noqa: F401

from load.reliability.stack import DemoStack, demo_stack


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    """Legacy, catalog, orders and the façade (no catalog-sync: nothing here reads what it copies)."""
    with demo_stack(tmp_path_factory.mktemp("reliability") / "var",
                    names=("legacy", "catalog", "orders", "facade")) as s:
        yield s
