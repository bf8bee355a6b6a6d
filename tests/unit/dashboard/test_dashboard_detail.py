"""Honest controls (precheck), the drill-down, the difference viewer's examples, repro downloads and "add ignore
rule" — against the façade addons, a real parity store and the real route table file."""
from __future__ import annotations

from dashboard_harness import TOKEN, login

from proxy.flips import FlipError, figures_from, flip_feature, precheck
from proxy.ledger import read_records
from proxy.parity import ParityStore, RequestInfo, Response, compare_exchange
from proxy.parity.normalise import Normaliser
from proxy.parity.pretty import json_lines
from proxy.table import load_table
from strangler.settings import get_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LEGACY = b'{"Name": "a", "Price": "1.00", "Tags": ["x"], "At": "2026-01-01"}'
CANDIDATE = b'{"Name": "a", "Price": "1.0", "Tags": ["y"], "At": "2026-01-01"}'


def seed(n: int = 10, differing: int = 3) -> None:
    with ParityStore(get_settings().var_dir / "parity.db", background=False) as store:
        ref = Response.of(200, {"content-type": "application/json"}, LEGACY)
        bad = Response.of(200, {"content-type": "application/json"}, CANDIDATE)
        for i in range(n):
            store.record(compare_exchange(Normaliser(), feature="items", route="/api/items/{id}",
                                          request=RequestInfo.of("GET", f"/api/items/{i}",
                                                                 {"Authorization": "Bearer s3cret-value",
                                                                  "Accept": "application/json"}),
                                          reference=ref, candidate=bad if i < differing else ref, latency_ms=4.0 + i,
                                          reference_url="http://127.0.0.1:5000",
                                          candidate_url="http://127.0.0.1:8101"))


def controls_of(client, name: str = "items") -> dict:
    data = client.get("/ui/data", headers=AUTH).json()
    feat = next(f for f in data["features"] if f["name"] == name)
    return {c["to"]: c for c in feat["controls"]}


def test_precheck_is_the_flips_own_judgement(routes):
    table = load_table(routes)
    record, reasons = precheck(table, "items", "retired")
    assert any("flip 'items' to 'new' first" in r for r in reasons)
    try:
        flip_feature(routes, "items", "retired", actor="t", reason="x")
    except FlipError as exc:
        assert exc.reasons == reasons  # what the precheck said is what the flip says
    else:
        raise AssertionError("the flip was allowed although the precheck refused it")
    record, reasons = precheck(table, "items", "shadow", figures=figures_from(get_settings().var_dir / "parity.db"))
    assert reasons == [] and record.changed and {"samples", "diff_rate"} <= set(record.evidence)


def test_controls_show_refusals_and_the_evidence_a_flip_records(client):
    seed()
    controls = controls_of(client)
    assert set(controls) == {"shadow", "canary", "new", "retired"}  # not the state it is in
    assert not controls["retired"]["allowed"] and "new' first" in controls["retired"]["reasons"][0]
    assert controls["shadow"]["allowed"] and controls["shadow"]["reasons"] == []
    assert controls["shadow"]["evidence"]["samples"] == 10 and controls["shadow"]["evidence"]["mismatches"] == 3
    assert controls["shadow"]["evidence_text"].startswith("diff rate 30.0%, error rate 0.0%, 10 samples")
    csrf = login(client)
    r = client.post("/flip", json={"feature": "items", "to": "shadow", "reason": "go"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert r.json()["flip"]["evidence"]["diff_rate"] == controls["shadow"]["evidence"]["diff_rate"]


def test_examples_show_both_answers_with_differing_paths_and_no_secret(client):
    seed()
    login(client)
    view = client.get("/ui/examples", params={"feature": "items", "field": "$.Price"}).json()
    assert view["field"] == "$.Price" and view["examples"], view
    ex = view["examples"][0]
    assert ex["request"]["method"] == "GET" and ex["request"]["path"].startswith("/api/items/")
    assert "authorization" in ex["request"]["header_names"] and "Authorization" in ex["request"]["redacted"]
    assert "s3cret-value" not in str(view)
    assert {d["path"] for d in ex["differences"]} == {"$.Price", "$.Tags[0]"}
    ref_lines = {line["path"]: line["text"] for line in ex["reference"]["lines"]}
    cand_lines = {line["path"]: line["text"] for line in ex["candidate"]["lines"]}
    assert '"1.00"' in ref_lines["$.Price"] and '"1.0"' in cand_lines["$.Price"]
    assert ex["export"]["command"] == f"strangler parity export {ex['id']}"
    curl = client.get(ex["export"]["curl"])
    assert curl.status_code == 200 and "attachment" in curl.headers["content-disposition"]
    assert "STRANGLER_REPLAY_AUTHORIZATION" in curl.text and "s3cret-value" not in curl.text
    test = client.get(ex["export"]["pytest"])
    assert test.status_code == 200 and "def test_mismatch_" in test.text
    assert client.get("/ui/export/999/curl").status_code == 404


def test_add_ignore_rule_goes_through_the_cli_path_and_is_ledgered(client, routes, facade):
    seed()
    csrf = login(client)
    assert client.post("/ui/ignore", json={"feature": "items", "rule": "$.Price"}).status_code == 403  # no CSRF
    r = client.post("/ui/ignore", json={"feature": "items", "rule": "$.Price"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200 and r.json()["added"] == ["$.Price"]
    assert load_table(routes).features["items"].parity.ignore == ["$.Price"]
    [rec] = [x for x in read_records(facade.state.store) if x["evidence"].get("action") == "parity.ignore.add"]
    assert rec["actor"] == "dashboard" and rec["evidence"]["added"] == ["$.Price"]
    view = client.get("/ui/examples", params={"feature": "items", "field": "$.Price"}).json()
    ex = view["examples"][0]
    assert view["ignored_already"] and "$.Price" in ex["ignored"]  # re-judged under the rules in force
    assert {d["path"] for d in ex["differences"]} == {"$.Tags[0]"}
    parity = next(f for f in client.get("/ui/data").json()["features"] if f["name"] == "items")["parity"]
    assert parity["recent"]["mismatches"] == 3  # $.Tags still differs on the same 3 requests
    assert {f["field"]: f["ignored"] for f in parity["top_fields"]}["$.Price"] is True
    bad = client.post("/ui/ignore", json={"feature": "items", "rule": "Price["}, headers={"X-CSRF-Token": csrf})
    assert bad.status_code == 409 and load_table(routes).features["items"].parity.ignore == ["$.Price"]


def test_drill_down_has_routes_shadow_copies_cohort_and_ledger(client, facade):
    seed()
    csrf = login(client)
    client.post("/flip", json={"feature": "items", "to": "shadow", "reason": "drill"}, headers={"X-CSRF-Token": csrf})
    d = client.get("/ui/feature/items").json()
    [copies] = d["shadow_copies"]
    assert copies["route"] == "/api/items/{id}" and copies["copies"] == 10 and copies["p95_ms"] == 13.0
    assert (copies["compared"], copies["mismatches"], copies["parity_rate"]) == (10, 3, 0.7)
    assert d["cohort"]["configured_percent"] == 0.0
    assert [r["to_state"] for r in d["feature_ledger"]] == ["shadow"]
    assert client.get("/ui/feature/nope").status_code == 404


def test_json_lines_carry_exact_paths():
    lines = json_lines({"a": [1, {"b c": None}], "": 2})
    assert [line["path"] for line in lines] == ["$", "$.a", "$.a[0]", "$.a[1]", "$.a[1]['b c']", "$.a[1]", "$.a",
                                                "$['']", "$"]
    assert lines[-2]["text"] == '  "": 2'


def test_controls_follow_a_table_change_at_once(client, facade, routes):
    assert "shadow" in controls_of(client)
    flip_feature(routes, "items", "shadow", actor="cli", reason="from the terminal")  # not through the page
    assert facade.state.reload()
    controls = controls_of(client)  # judged again for the new table version, not served from the old one
    assert "legacy" in controls and "shadow" not in controls


def test_detail_endpoints_need_a_login_and_the_footprint_is_served_when_saved(client):
    seed()
    for url in ("/ui/feature/items", "/ui/examples?feature=items&field=$.Price", "/ui/export/1/curl",
                "/ui/footprint.svg"):
        assert client.get(url).status_code == 401, url
    assert client.post("/ui/ignore", json={"feature": "items", "rule": "$.x"}).status_code == 401
    login(client)
    missing = client.get("/ui/footprint.svg")
    assert missing.status_code == 404 and "strangler analyze" in missing.json()["message"]
    from strangler.footprint.svg import render_svg

    pic = get_settings().var_dir / "footprint" / "footprint.svg"
    pic.parent.mkdir(parents=True, exist_ok=True)
    pic.write_text(render_svg({"extraction_order": [{"module": "orders", "owns": ["ORDERS"]}], "coupling": []}))
    served = client.get("/ui/footprint.svg")
    assert served.status_code == 200 and served.headers["content-type"] == "image/svg+xml"
    assert served.text.startswith("<svg") and "default-src 'none'" in served.headers["content-security-policy"]
