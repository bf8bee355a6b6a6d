"""load/reliability/fuzz.py: whose 5xx a fuzzed answer is, and no answer at all kept apart from both."""
from __future__ import annotations

from pathlib import Path

from load.reliability.fuzz import TIMEOUT_MARGIN_S, classify, client_timeout

ROOT = Path(__file__).resolve().parents[3]
# schemathesis 4's console report of two transport errors, as it printed them against a server that
# reset one connection and was too slow on the other
OUTPUT = """==================================== ERRORS ====================================
__________________________________ GET /api/products __________________________________
Network Error

Read timed out after 15 seconds

Reproduce with:

    curl -X GET http://127.0.0.1:8080/api/products
__________________________________ GET /api/products/{id} __________________________________
Network Error

Connection failed

    Connection aborted. [Errno 104] Connection reset by peer

Reproduce with:

    curl -X GET http://127.0.0.1:8080/api/products/null%2Cnull
"""


def entry(url: str, status: int, served_by: str | None = None, method: str = "GET") -> dict:
    headers = [{"name": "X-Served-By", "value": served_by}] if served_by is not None else []
    return {"request": {"method": method, "url": url},
            "response": {"status": status, "headers": headers, "content": {"text": "{}"}}}


def har(*entries: dict) -> dict:
    return {"log": {"entries": list(entries)}}


def test_no_answer_is_counted_apart_from_the_facades_5xx_with_schemathesis_reasons():
    result = classify(har(entry("http://f/api/products?page=1", 0), entry("http://f/api/products/null%2Cnull", 0),
                          entry("http://f/api/products", 200, "catalog")), OUTPUT)
    assert (result.requests, result.no_answer, result.facade_5xx, result.upstream_5xx_total) == (3, 2, 0, 0)
    assert result.no_answer_reasons == {
        "GET /api/products: Read timed out after 15 seconds": 1,
        "GET /api/products/{id}: Connection failed (Connection aborted. [Errno 104] Connection reset by peer)": 1}
    assert result.served_by == {"-": 2, "catalog": 1}
    assert result.examples[0] == "GET http://f/api/products?page=1 -> 0 -: {}"


def test_a_5xx_made_by_the_facade_still_counts_and_an_upstream_5xx_is_the_upstreams():
    result = classify(har(entry("http://f/api/orders", 504, "facade"), entry("http://f/api/orders", 502, "facade"),
                          entry("http://f/api/orders/1", 503, ""), entry("http://f/x", 500),
                          entry("http://f/api/products", 500, "catalog"), entry("http://f/api/orders", 404, "facade")))
    assert (result.facade_5xx, result.no_answer, dict(result.upstream_5xx)) == (4, 0, {"catalog": 1})
    assert not result.no_answer_reasons


def test_the_client_waits_longer_than_the_slowest_upstream_timeout(tmp_path):
    assert client_timeout(ROOT / "config" / "routes.yaml") == 10.0 + TIMEOUT_MARGIN_S  # the default timeout_s
    routes = tmp_path / "routes.yaml"
    routes.write_text((ROOT / "config" / "routes.yaml").read_text().replace(
        "    dry_run_writes: true\n    breaker", "    timeout_s: 30\n    dry_run_writes: true\n    breaker", 1))
    assert client_timeout(routes) == 30.0 + TIMEOUT_MARGIN_S
