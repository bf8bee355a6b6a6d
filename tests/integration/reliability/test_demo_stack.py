"""The demo stack as `strangler up` runs it: fuzzed through the façade, and flipped under mixed load.

Same code as load/bench_reliability.py (load/reliability/), on a small bounded scale. Upstream 5xx are
reported (they are the apps' bugs, tested where the apps are); the façade must never make one of its own."""
from __future__ import annotations

import httpx
import pytest

from load.reliability.episodes import flips_under_load
from load.reliability.fuzz import FEATURE_PATHS, fuzz, session_cookie
from load.reliability.traffic import demo_mix, seeded_password

pytestmark = pytest.mark.integration
FEATURES = ("catalog", "orders")


def flip_all(demo, to: str, percent: float | None = None) -> None:
    demo.flip(FEATURES, to, percent)


def test_fuzzing_the_legacy_contract_through_the_facade_meets_no_5xx_of_its_own(demo, tmp_path):
    """In canary 50 % (each request its own cohort), so both sides of both features are fuzzed in one run."""
    state = "canary"
    flip_all(demo, state, 50.0)
    try:
        result = fuzz(demo.url(), tmp_path / "run.har", routes=demo.routes, max_examples=1, paths=FEATURE_PATHS,
                      timeout_s=240)
    finally:
        flip_all(demo, "legacy")
    print(f"{state}: {result.requests} requests, served by {dict(result.served_by)}, "
          f"façade-made 5xx {result.facade_5xx}, upstream 5xx {dict(result.upstream_5xx)}, "
          f"no answer {result.no_answer} {dict(result.no_answer_reasons)}")
    assert all(result.served_by[side] > 0 for side in ("legacy", *FEATURES)), result
    assert result.facade_5xx == 0, result.examples
    # no answer within the client's timeout (the façade's + a margin) is the busy machine's; a reset is not
    assert all("Read timed out" in why for why in result.no_answer_reasons), result.no_answer_reasons


def test_flips_under_mixed_read_write_load_fail_no_request(demo):
    figures = flips_under_load(demo.url(), demo_mix, lambda to, pct: flip_all(demo, to, pct), flips=10,
                               threads=3, max_seconds=60)
    flip_all(demo, "legacy")
    assert figures["writes"] > 0 and {"legacy", "catalog", "orders"} <= set(figures["served_by"]), figures
    assert figures["failed"] == 0, figures


BAD_IDS = (f"/api/products/{2**63}", f"/api/orders/{2**63}", "/api/products/-1", "/api/orders/abc",
           f"/api/products?page={10**30}", f"/api/orders?customer_id={2**63}")


@pytest.mark.parametrize("state", ["legacy", "new"])
def test_bad_ids_through_the_facade_are_legacy_envelope_4xx_and_the_next_read_is_served(demo, state):
    """The issue's probe: an id beyond 64 bits was a 500 in the monolith and the services, and the next request
    on the kept-alive connection a 502 from the façade. Now: a legacy-envelope 4xx from whichever side serves
    the feature, the next read on the same client connection a 200, no traceback in any app's log."""
    logs = {name: demo.proc(name).spec.log_path for name in ("legacy", "catalog", "orders")}
    tracebacks = {name: log.read_text(errors="replace").count("Traceback") for name, log in logs.items()}
    flip_all(demo, state)
    try:
        cookie = session_cookie(demo.url(), seeded_password(demo.var) or "")  # orders: past the 401 gate
        with httpx.Client(base_url=demo.url(), timeout=60, headers={"Cookie": cookie}) as client:
            for path in BAD_IDS:
                answer = client.get(path)
                side = answer.headers.get("X-Served-By")
                assert 400 <= answer.status_code < 500, (state, path, answer.status_code, side, answer.text)
                feature = {"products": "catalog", "orders": "orders"}[path.split("/")[2].split("?")[0]]
                assert side == ("legacy" if state == "legacy" else feature), (path, side)
                assert answer.json()["Success"] is False, (path, answer.text)
                after = client.get("/api/products/6")
                assert after.status_code == 200, (state, path, after.status_code, after.text)
    finally:
        flip_all(demo, "legacy")
    assert {name: log.read_text(errors="replace").count("Traceback") for name, log in logs.items()} == tracebacks
