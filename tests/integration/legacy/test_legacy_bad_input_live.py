"""The real monolith (gunicorn): ids and query values no column can hold are legacy-envelope 4xx, not 500s,
and they leave no traceback in the server log."""
from __future__ import annotations

import httpx

from tests.identity_auth import log_in, seeded_email

PATHS = [f"/api/orders/{2**63}", f"/api/products/{2**63}", f"/api/customers/{2**31}/summary",
         "/api/products/-1", "/api/orders/abc", f"/api/products?page={10**30}", f"/api/orders?customer_id={2**63}"]


def test_bad_ids_and_queries_are_4xx_without_tracebacks(monolith) -> None:
    with httpx.Client(base_url=monolith.url, timeout=30) as client:
        log_in(client, seeded_email(1))  # past the orders' 401: the ids themselves must be refused
        for path in PATHS:
            answer = client.get(path, headers={"X-Request-ID": "bad-input-live"})
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
            assert answer.json()["Success"] is False and answer.json()["ErrorCode"] != "INTERNAL_ERROR"
        posted = client.post(f"/api/inventory/reservations/{2**63}/consume")
        assert posted.status_code == 404 and posted.json()["ErrorCode"] == "NOT_FOUND"
    assert "Traceback" not in monolith.log.read_text(errors="replace")
