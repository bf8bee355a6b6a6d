"""The demo stack as `strangler up` runs it: fuzzed through the façade, and flipped under mixed load.

Same code as load/bench_reliability.py (load/reliability/), on a small bounded scale. Upstream 5xx are
reported (they are the apps' bugs, tested where the apps are); the façade must never make one of its own."""
from __future__ import annotations

import sqlite3

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


def test_a_failing_read_logs_one_line_per_request_with_its_id_and_few_tracebacks(demo):
    """Defect 5 on the real monolith (gunicorn, LEGACY_WORKERS=2 by default) behind the real façade: a fault
    that fails every read of one product (a price no Numeric column can read) makes each request one log line
    with the request id the client sent through the façade (kept when 8-128 safe characters) and the cause;
    the traceback comes at most once per minute per error type in each worker, never once per request. Runs
    last in this module: it corrupts one row of legacy.db and puts it back."""
    n, log = 12, demo.proc("legacy").spec.log_path
    before = log.read_text(errors="replace")
    with sqlite3.connect(demo.var / "legacy.db") as db:
        (price,) = db.execute("SELECT UNIT_PRC FROM PRODUCTS WHERE PROD_ID = 6").fetchone()
        db.execute("UPDATE PRODUCTS SET UNIT_PRC = 'not a price' WHERE PROD_ID = 6")
    try:
        with httpx.Client(base_url=demo.url(), timeout=60) as client:
            for i in range(n):
                answer = client.get("/api/products/6", headers={"X-Request-ID": f"flood-{i:04d}"})
                assert answer.status_code == 500 and answer.headers.get("X-Served-By") == "legacy", answer.text
                assert answer.json()["ErrorCode"] == "INTERNAL_ERROR", answer.text
    finally:
        with sqlite3.connect(demo.var / "legacy.db") as db:
            db.execute("UPDATE PRODUCTS SET UNIT_PRC = ? WHERE PROD_ID = 6", (price,))
    added = log.read_text(errors="replace")[len(before):]
    errors = [line for line in added.splitlines() if "unhandled error on GET /api/products/6 request_id=flood-" in line]
    assert len(errors) == n, added[-3000:]
    assert all(f"request_id=flood-{i:04d}: TypeError" in errors[i] for i in range(n)), errors
    assert 1 <= added.count("Traceback (most recent call last)") <= 2, added[-3000:]  # one per worker at most
    assert httpx.get(demo.url() + "/api/products/6", timeout=60).status_code == 200
