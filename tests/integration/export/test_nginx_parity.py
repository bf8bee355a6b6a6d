"""The exported nginx config routes like the façade: same upstream, feature and forwarded path per request;
the canary share matches; shadowed requests reach the comparator and land in the parity store."""
from __future__ import annotations

import time

import httpx
import pytest
from export_stack import CANARY_PERCENT, NginxStack

from proxy.cohort import bucket, in_target
from proxy.parity import ParityStore
from strangler.export.cohorts import nginx_in_target

pytestmark = pytest.mark.integration

CASES = [  # (method, path) — expected upstream/feature come from the façade itself, not from this list
    ("GET", "/api/items/7"), ("POST", "/api/items/7"), ("PUT", "/api/items/7"),
    ("GET", "/api/items/special"), ("HEAD", "/api/items/special"), ("POST", "/api/items/special"),
    ("GET", "/api/items/special/"), ("GET", "/api/items/a%2Fb?x=1"), ("GET", "/api/items//"),
    ("GET", "/api/items/"), ("GET", "/api/gone/3/x"), ("PUT", "/api/gone/3/x"), ("DELETE", "/api/gone/3/x"),
    ("GET", "/api/archive/a/b/c"), ("DELETE", "/api/archive/z"), ("GET", "/api/archive"),
    ("GET", "/api/same/1"), ("GET", "/api/differs"),
    ("GET", "/not/routed"), ("GET", "/"), ("PATCH", "/api/same/1"),
]


def _ask(client: httpx.Client, base: str, method: str, path: str, **kw) -> httpx.Response:
    return client.request(method, base + path, timeout=10, **kw)


def _summary(resp: httpx.Response, method: str) -> tuple:
    body = resp.json() if method != "HEAD" and resp.headers.get("content-type", "").startswith("application/json") \
        else None
    forwarded = (body or {}).get("path") if isinstance(body, dict) else None
    return resp.status_code, resp.headers.get("x-served-by"), resp.headers.get("x-strangler-feature"), forwarded


def test_same_requests_reach_the_same_upstream(nginx_stack: NginxStack) -> None:
    with httpx.Client(trust_env=False) as client:
        for method, path in CASES:
            via_facade = _summary(_ask(client, nginx_stack.url("facade"), method, path), method)
            via_nginx = _summary(_ask(client, nginx_stack.url("nginx"), method, path), method)
            assert via_nginx == via_facade, f"{method} {path}: nginx {via_nginx} != façade {via_facade}"


def test_new_state_falls_back_to_legacy_for_reads_only(nginx_stack: NginxStack) -> None:
    """nginx falls back on every failed GET/HEAD at once; the façade once its breaker has opened (after
    failure_threshold failures): the documented approximation. Writes fail on both, never redirected."""
    with httpx.Client(trust_env=False) as client:
        for _ in range(2):
            r = _ask(client, nginx_stack.url("nginx"), "GET", "/api/fallback/1")
            assert (r.status_code, r.headers["x-served-by"], r.headers["x-strangler-fallback"]) == \
                (200, "legacy", "target_failed")
        facade = [_ask(client, nginx_stack.url("facade"), "GET", "/api/fallback/1") for _ in range(7)]
        assert facade[0].status_code == 502 and facade[-1].headers["x-served-by"] == "legacy"
        for side in ("nginx", "facade"):
            w = _ask(client, nginx_stack.url(side), "POST", "/api/fallback/1")
            assert w.status_code in (502, 503) and w.headers["x-served-by"] == "facade", (side, w.headers)
            assert w.json()["error"] == "upstream_unavailable"


def test_headers_the_facade_owns(nginx_stack: NginxStack) -> None:
    base = nginx_stack.url("nginx")
    r = httpx.get(base + "/api/items/special", timeout=10, trust_env=False,
                  headers={"X-Request-ID": "client-id-12345", "X-Forwarded-For": "6.6.6.6",
                           "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    assert r.headers["x-request-id"] == "client-id-12345"
    # our own request, by its trace id: other tests' traffic (shadow mirrors included) may reach svc after it
    received = httpx.get(f"http://127.0.0.1:{nginx_stack.svc}/__received", timeout=5).json()["received"]
    ours = [x for x in received if x["headers"].get("traceparent", "").startswith("00-" + "a" * 32 + "-")]
    assert len(ours) == 1, ours
    seen = ours[0]["headers"]
    assert seen["host"] == f"127.0.0.1:{nginx_stack.svc}"
    assert seen["x-forwarded-for"] == "127.0.0.1" and seen["x-request-id"] == "client-id-12345"
    assert seen["traceparent"].startswith("00-" + "a" * 32 + "-") and "b" * 16 not in seen["traceparent"]
    bad = httpx.get(base + "/x", headers={"X-Request-ID": "bad id\twith tab"}, timeout=10, trust_env=False)
    assert len(bad.headers["x-request-id"]) == 32 and bad.headers["x-request-id"] != "bad id\twith tab"


def test_canary_split_matches_the_percentage(nginx_stack: NginxStack) -> None:
    keys = [f"user-{i}" for i in range(1500)]
    sides: dict[str, dict[str, bool]] = {"nginx": {}, "facade": {}}
    with httpx.Client(trust_env=False) as client:
        for side, seen in sides.items():
            for key in keys if side == "nginx" else keys[:600]:
                r = _ask(client, nginx_stack.url(side), "GET", "/api/canary", headers={"X-Strangler-Cohort": key})
                seen[key] = r.headers["x-served-by"] == "svc"
    nginx_share = sum(sides["nginx"].values()) / len(sides["nginx"])
    facade_share = sum(sides["facade"].values()) / len(sides["facade"])
    assert abs(nginx_share - CANARY_PERCENT / 100) < 0.04, nginx_share
    assert abs(facade_share - CANARY_PERCENT / 100) < 0.06, facade_share
    # nginx's choice is exactly MurmurHash2 split_clients over the façade's key string "h:<header>"...
    assert all(nginx_in_target("h:" + k, CANARY_PERCENT) == v for k, v in sides["nginx"].items())
    # ...and the façade buckets users with the same hash and cut: every user is on the same side in both
    assert all(in_target(bucket("h:" + k), CANARY_PERCENT) == v for k, v in sides["facade"].items())
    disagree = [k for k, v in sides["facade"].items() if sides["nginx"][k] != v]
    print(f"canary {CANARY_PERCENT}%: nginx {nginx_share:.3f}, façade {facade_share:.3f}, "
          f"{len(sides['facade']) - len(disagree)} of {len(sides['facade'])} users on the same side")
    assert disagree == []


def _wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_shadow_mirrors_to_the_comparator(nginx_stack: NginxStack) -> None:
    base = nginx_stack.url("nginx")
    with httpx.Client(trust_env=False) as client:
        for i in range(3):
            assert _ask(client, base, "GET", f"/api/same/{i}").headers["x-served-by"] == "legacy"
            assert _ask(client, base, "GET", "/api/differs").headers["x-served-by"] == "legacy"
        w = _ask(client, base, "POST", "/api/same/9", json={"a": 1})
        assert w.headers["x-served-by"] == "legacy"

    def stats():
        got = httpx.get(f"http://127.0.0.1:{nginx_stack.comparator}/stats", timeout=5).json()["stats"]
        return got if got.get("match", 0) >= 3 and got.get("diff", 0) >= 3 and got.get(
            "write_dry_run:200", 0) >= 1 else None

    got = _wait_for(stats)
    assert got, httpx.get(f"http://127.0.0.1:{nginx_stack.comparator}/stats", timeout=5).json()
    # the dry-run write reached the target signed; legacy got the write exactly once (from nginx)
    svc_seen = httpx.get(f"http://127.0.0.1:{nginx_stack.svc}/__received", timeout=5).json()["received"]
    writes = [r for r in svc_seen if r["method"] == "POST" and r["path"] == "/api/same/9"]
    assert writes and writes[-1]["headers"].get("x-strangler-shadow", "").startswith("t=")
    legacy_seen = httpx.get(f"http://127.0.0.1:{nginx_stack.legacy}/__received", timeout=5).json()["received"]
    assert len([r for r in legacy_seen if r["method"] == "POST" and r["path"] == "/api/same/9"]) == 1

    def report():
        store = ParityStore(nginx_stack.parity_db, background=False)
        try:
            return {(s.feature, s.field): s for s in store.field_stats()} or None
        finally:
            store.close()

    fields = _wait_for(report)
    assert fields and ("differs", "$.served_by") in fields
    assert not any(f == "same" for f, _ in fields)
