"""Two real mitmdump façades on ONE route table in PostgreSQL: a flip through either instance's admin API
reaches the other via LISTEN/NOTIFY. Prints the propagation time (flip call returned -> the other instance
serves the new state, polled every 10 ms); no wall-clock assertion beyond a generous bounded wait."""
from __future__ import annotations

import statistics
import time
from contextlib import ExitStack

import httpx
import pytest
from scale_stack import TOKEN, admin_flip, facade_argv, routes_text, served_by, upstream_argv

from proxy.ledger import read_records
from strangler.procs import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
FLIPS = 8
BOUND_S = 10.0


@pytest.fixture(scope="module")
def two_facades(pg_store, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shared")
    legacy, svc = free_port(), free_port()
    pg_store.push(routes_text(legacy, svc), actor="test")
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(tmp / "var")}
    instances = []
    with ExitStack() as stack:
        for name, port in (("legacy", legacy), ("svc", svc)):
            stack.enter_context(running(upstream_argv(port), env={"UPSTREAM_NAME": name},
                                        health_url=f"http://127.0.0.1:{port}/healthz", log_path=tmp / f"{name}.log"))
        for i in range(2):
            port, admin = free_port(), free_port()
            stack.enter_context(running(
                facade_argv(legacy, port, admin, f"strangler_store={pg_store.url}", "strangler_store_poll_ms=2000"),
                health_url=f"http://127.0.0.1:{admin}/healthz", env=env, log_path=tmp / f"facade{i}.log",
                timeout=40))
            instances.append((port, admin))
        yield instances


def _wait_served(port: int, expected: str) -> float:
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        if served_by(port) == expected:
            return time.perf_counter()
        time.sleep(0.01)
    raise AssertionError(f"instance on port {port} still not served by {expected!r} after {BOUND_S} s")


def test_flip_on_one_instance_reaches_the_other(two_facades, pg_store):
    (a_port, a_admin), (b_port, b_admin) = two_facades
    assert served_by(a_port) == served_by(b_port) == "legacy"
    delays = []
    for i in range(FLIPS):
        to = "new" if i % 2 == 0 else "legacy"
        expected = "svc" if to == "new" else "legacy"
        via, other = ((a_admin, b_port), (b_admin, a_port))[i % 4 >= 2]  # flip through A, then through B
        result = admin_flip(via, to)
        returned = time.perf_counter()
        assert result["changed"] and result["reloaded"]
        delays.append((_wait_served(other, expected) - returned) * 1000)
        assert served_by(a_port) == served_by(b_port) == expected
    print(f"\nflip propagation to the other façade over {FLIPS} flips (poll every 10 ms, 2 cores shared with "
          f"both façades, PostgreSQL and the upstreams): min {min(delays):.1f} ms, median "
          f"{statistics.median(delays):.1f} ms, max {max(delays):.1f} ms")
    ledger = [r for r in read_records(pg_store) if r.get("feature") == "things"]
    assert [r["to_state"] for r in ledger[-FLIPS:]] == ["new", "legacy"] * (FLIPS // 2)
    assert {r["actor"] for r in ledger} == {"admin-api"}
    r = httpx.get(f"http://127.0.0.1:{b_admin}/ledger?feature=things&limit=3",
                  headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert [x["to_state"] for x in r.json()["records"]] == ["legacy", "new", "legacy"]
    assert "# flipped by the tests" in pg_store.read_text()  # comment-keeping edit of the stored document


def test_invalid_flip_is_refused_and_changes_nothing(two_facades, pg_store):
    (a_port, a_admin), (b_port, _) = two_facades
    before = pg_store.version()
    r = httpx.post(f"http://127.0.0.1:{a_admin}/flip", json={"feature": "things", "to": "retired"},
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code in (400, 409) and "retired" in r.text
    assert pg_store.version() == before
    assert served_by(a_port) == served_by(b_port)
