"""Comparison results for the parity store tests (SQLite and PostgreSQL alike)."""
from __future__ import annotations

import json

from proxy.parity import Normaliser, RequestInfo, Response, compare_exchange

N = Normaliser()


def result(i: int, *, feature: str = "f", price: str = "1.00", noise: bool = False, error: bool = False,
           latency: float = 10.0):
    body = lambda t, p: json.dumps({"Id": i, "T": t, "Price": p})
    ref = Response.of(200, {"content-type": "application/json"}, body("a", "1.00"))
    cand = Response.of(200, {"content-type": "application/json"}, body("b", price))
    again = Response.of(200, {"content-type": "application/json"}, body("c", "1.00")) if noise else None
    return compare_exchange(N, feature=feature, route="/items/{id}", request=RequestInfo.of("GET", f"/items/{i}"),
                            reference=ref, candidate=None if error else cand, reference_again=again,
                            error="refused" if error else None, latency_ms=latency,
                            reference_url="http://127.0.0.1:1", candidate_url="http://127.0.0.1:2")
