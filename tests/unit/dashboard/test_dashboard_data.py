"""The JSON the page polls: table, traffic per side, breakers, parity, ownership and ledger, from real sources."""
from __future__ import annotations

import json

from dashboard_harness import TOKEN, login

from proxy.parity import ParityStore, RequestInfo, Response, compare_exchange
from proxy.parity.normalise import Normaliser
from strangler.settings import get_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def served(facade, status: int, cohort: str) -> None:
    """One request through the façade addons (routing, upstream guard, telemetry) with this answer."""
    f = facade.send(facade.flow(headers={"X-Strangler-Cohort": cohort}))
    facade.answer(f, status=status)


def feature(data: dict, name: str) -> dict:
    return next(f for f in data["features"] if f["name"] == name)


def test_empty_sources_are_notes_not_failures(client):
    data = client.get("/ui/data", headers=AUTH).json()
    items = feature(data, "items")
    assert items["state"] == "legacy" and items["target"] == "svc" and items["parity"] is None
    assert items["sides"]["target"]["requests_total"] == 0 and items["sides"]["legacy"]["p95_ms"] is None
    assert "no parity store" in data["parity_store"]["note"]
    assert "no ownership file" in data["ownership_file"]["note"]
    assert data["ledger"] == [] and data["states"] == ["legacy", "shadow", "canary", "new", "retired"]
    assert {u["name"]: u["breaker"] for u in data["upstreams"]} == {"legacy": "closed", "svc": "closed"}


def test_traffic_is_split_per_side_with_error_rates(client, facade):
    facade.write(facade.routes.read_text().replace("state: legacy\n    canary_percent: 0",
                                                   "state: canary\n    canary_percent: 50", 1))
    assert facade.state.reload()
    sides_seen = set()
    for i in range(40):
        f = facade.send(facade.flow(headers={"X-Strangler-Cohort": f"user-{i}"}))
        sides_seen.add(f.metadata["strangler"].upstream)
        facade.answer(f, status=503 if f.metadata["strangler"].upstream == "svc" and i % 2 else 200)
    assert sides_seen == {"legacy", "svc"}
    data = client.get("/ui/data", headers=AUTH).json()
    items = feature(data, "items")
    legacy, target = items["sides"]["legacy"], items["sides"]["target"]
    assert items["state"] == "canary" and items["canary_percent"] == 50
    assert legacy["upstream"] == "legacy" and target["upstream"] == "svc"
    assert legacy["requests_total"] + target["requests_total"] == 40
    assert legacy["errors_total"] == 0 and legacy["error_rate"] == 0
    assert 0 < target["errors_total"] < target["requests_total"]
    assert target["error_rate"] == target["window_errors"] / target["window_requests"]
    assert target["p95_ms"] is not None and target["rate_rps"] > 0
    svc = next(u for u in data["upstreams"] if u["name"] == "svc")
    assert svc["requests_total"] == target["requests_total"]


def test_open_breaker_is_reported(client, facade):
    facade.write(facade.routes.read_text().replace("state: legacy", "state: new", 1))
    assert facade.state.reload()
    for i in range(2):  # failure_threshold: 2 in the harness table
        served(facade, 503, f"u{i}")
    data = client.get("/ui/data", headers=AUTH).json()
    svc = next(u for u in data["upstreams"] if u["name"] == "svc")
    assert svc["breaker"] == "open" and svc["opens"] == 1


def test_parity_rate_and_top_differing_fields_come_from_the_store(client):
    store = ParityStore(get_settings().var_dir / "parity.db", background=False)
    norm = Normaliser()
    legacy = Response.of(200, {"content-type": "application/json"}, b'{"Name": "a", "Price": "1.00", "Qty": 1}')
    differs = Response.of(200, {"content-type": "application/json"}, b'{"Name": "a", "Price": "1.0", "Qty": 1}')
    for i in range(10):
        candidate = differs if i < 3 else legacy
        store.record(compare_exchange(norm, feature="items", route="/api/items/{id}",
                                      request=RequestInfo.of("GET", f"/api/items/{i}"), reference=legacy,
                                      candidate=candidate, latency_ms=5.0))
    store.close()
    data = client.get("/ui/data", headers=AUTH).json()
    parity = feature(data, "items")["parity"]
    assert data["parity_store"]["note"] is None
    assert parity["compared"] == 10 and parity["window"]["samples"] == 10
    assert parity["parity_rate"] == 0.7
    top = parity["top_fields"][0]
    assert top["field"] == "$.Price" and top["raw"] == 3 and top["route"] == "/api/items/{id}"
    body, equal = parity["causes"]  # grouped by cause, as `strangler parity report` does
    assert body == {"cause": "body", "headline": "body differs on 3 requests, none carrying credentials",
                    "differs": True, "fields": ["$.Price"]}
    assert equal["headline"] == "equal on 7 requests" and not equal["differs"]
    assert feature(data, "files")["parity"] is None


def test_ownership_file_is_shown_per_feature_and_bad_files_become_a_note(client):
    path = get_settings().var_dir / "ownership.json"
    path.write_text(json.dumps({"features": {"items": {
        "writes_owner": "legacy",
        "tables": {"ITEMS": {"backfilled_at": "2026-01-01T10:00:00+00:00", "verified_at": None, "rows": 42}},
        "sync": {"direction": "forward", "lag_s": 0.8, "updated_at": "2026-01-01T10:05:00+00:00"}}}}))
    data = client.get("/ui/data", headers=AUTH).json()
    own = feature(data, "items")["ownership"]
    assert own["writes_owner"] == "legacy" and own["sync"] == {"direction": "forward", "lag_s": 0.8,
                                                              "updated_at": "2026-01-01T10:05:00+00:00"}
    assert own["tables"] == [{"name": "ITEMS", "rows": 42, "backfilled_at": "2026-01-01T10:00:00+00:00",
                              "verified_at": None}]
    assert feature(data, "files")["ownership"] is None
    path.write_text("{not json")
    data = client.get("/ui/data", headers=AUTH).json()
    assert "cannot read" in data["ownership_file"]["note"] and feature(data, "items")["ownership"] is None


def test_ledger_is_latest_first_and_includes_page_flips(client):
    csrf = login(client)
    for to in ("shadow", "canary", "legacy"):
        body = {"feature": "items", "to": to, "reason": f"step {to}", **({"percent": 5} if to == "canary" else {})}
        assert client.post("/flip", json=body, headers={"X-CSRF-Token": csrf}).status_code == 200
    ledger = client.get("/ui/data").json()["ledger"]
    assert [r["to_state"] for r in ledger] == ["legacy", "canary", "shadow"]
    assert ledger[1]["to_percent"] == 5 and {r["actor"] for r in ledger} == {"dashboard"}


def test_dry_run_state_of_each_features_target(client, facade, routes):
    """Writes are shadowed only to a target that declares dry_run_writes AND proved it (proxy/shadow/safety.py)."""
    from proxy.parity.store import UNSAFE_TEXT

    assert feature(client.get("/ui/data", headers=AUTH).json(), "items")["dry_run"]["state"] == "not_declared"
    routes.write_text(routes.read_text().replace('svc: {url: "http://127.0.0.1:8101",',
                                                 'svc: {url: "http://127.0.0.1:8101", dry_run_writes: true,'))
    assert facade.state.reload()
    assert feature(client.get("/ui/data", headers=AUTH).json(), "items")["dry_run"]["state"] == "unproven"
    with ParityStore(get_settings().var_dir / "parity.db", background=False) as store:
        store.mark_target("svc", "unsafe", feature="items", url="http://127.0.0.1:8101", reason="no ack")
    dry = feature(client.get("/ui/data", headers=AUTH).json(), "items")["dry_run"]
    assert (dry["state"], dry["writes_shadowed"], dry["says"], dry["detail"]) == ("unsafe", False, UNSAFE_TEXT,
                                                                                   "no ack")
