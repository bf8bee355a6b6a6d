"""The façade as deployed: real mitmdump + addons in front of real upstreams, flipped while serving."""
from __future__ import annotations

import json
import socket
import subprocess
import threading
import time

import httpx
import pytest
from facade_stack import ROOT, facade_argv

from strangler.procs import free_port

pytestmark = pytest.mark.integration


def served_by(stack, path="/api/things/1", method="GET", **kw) -> str:
    r = httpx.request(method, stack.url + path, timeout=10, **kw)
    assert r.status_code == 200, r.text
    assert r.headers["X-Served-By"] == r.json()["served_by"]
    return r.headers["X-Served-By"]


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        chunks = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks += chunk
            if b"\r\n\r\n" in chunks and b"content-length" in chunks.lower():
                head, _, body = chunks.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                if len(body) >= length:
                    break
        return chunks


def test_admin_api_needs_the_token(stack):
    assert httpx.get(f"http://127.0.0.1:{stack.admin}/healthz").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{stack.admin}/routes").status_code == 401
    r = httpx.post(f"http://127.0.0.1:{stack.admin}/flip", json={"feature": "things", "to": "new"},
                   headers={"Authorization": "Bearer not-the-token-at-all"})
    assert r.status_code == 401 and served_by(stack) == "legacy"


def test_every_state_via_admin_api_and_back_via_yaml_edit(stack):
    assert served_by(stack) == "legacy"
    stack.flip("shadow")
    assert served_by(stack) == "legacy"
    stack.flip("canary", 50)
    sides = {served_by(stack, headers={"X-Strangler-Cohort": f"user-{i}"}) for i in range(40)}
    assert sides == {"legacy", "svc"}
    for i in range(10):  # sticky per user
        user = {"X-Strangler-Cohort": f"user-{i}"}
        assert len({served_by(stack, headers=user) for _ in range(3)}) == 1
    stack.flip("new")
    assert served_by(stack) == "svc" and served_by(stack, "/unrouted") == "legacy"
    stack.flip("retired")
    assert served_by(stack) == "svc"
    text = stack.routes.read_text()
    assert "# façade integration table" in text
    stack.routes.write_text(text.replace("state: retired", "state: legacy"))
    assert wait_until(lambda: served_by(stack) == "legacy")
    ledger = stack.admin_call("GET", "/ledger?feature=things").json()["records"]
    assert [r["to_state"] for r in ledger][-4:] == ["shadow", "canary", "new", "retired"]


def test_bad_yaml_edit_changes_nothing(stack):
    good = stack.routes.read_text()
    stack.flip("new")
    metrics = lambda: stack.admin_call("GET", "/metrics").text
    before = _counter(metrics(), "strangler_table_reload_errors_total")
    stack.routes.write_text(stack.routes.read_text().replace("state: new", "state: nu") + "  oops: [\n")
    assert wait_until(lambda: _counter(metrics(), "strangler_table_reload_errors_total") > before)
    assert served_by(stack) == "svc"
    assert stack.admin_call("GET", "/routes").json()["last_error"]
    stack.routes.write_text(good)
    assert wait_until(lambda: served_by(stack) == "legacy")


def test_flips_under_load_lose_no_request(stack):
    """30 flips through a cycle of 5 states while 4 clients keep requests in flight: each of the 5 kinds of
    table swap (into and out of canary, shadow, new, legacy) happens 6 times under load (100 flips made the
    same swaps 20 times each, at 3x the time)."""
    failures: list[str] = []
    counts = {"legacy": 0, "svc": 0}
    stop = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(base_url=stack.url, timeout=10) as c:
            for i in range(250):
                if stop.is_set():
                    return
                try:
                    r = c.get(f"/api/things/{i}", headers={"X-Strangler-Cohort": f"u{n}-{i}"})
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        counts[r.headers["X-Served-By"]] += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        states = [("new", None), ("canary", 30), ("legacy", None), ("shadow", None), ("canary", 70)]
        for i in range(30):
            stack.flip(*states[i % len(states)])
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    stack.flip("legacy")
    assert failures == []
    assert counts["legacy"] > 0 and counts["svc"] > 0


def test_open_proxy_attempts_reach_nothing(stack):
    httpx.post(f"http://127.0.0.1:{stack.bystander}/__reset")
    httpx.post(f"http://127.0.0.1:{stack.legacy}/__reset")
    # absolute-form to a host that is not an upstream (a real server listens there: it must see nothing)
    out = raw(stack.port, f"GET http://127.0.0.1:{stack.bystander}/abs-probe HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{stack.bystander}\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 403") and b"proxy_refused" in out
    out = raw(stack.port, b"GET http://example.com/abs-probe HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 403")
    # CONNECT tunnel
    out = raw(stack.port, f"CONNECT 127.0.0.1:{stack.bystander} HTTP/1.1\r\n"
                          f"Host: 127.0.0.1:{stack.bystander}\r\n\r\n".encode())
    assert out.startswith(b"HTTP/1.1 403") and b"connect_refused" in out
    # spoofed Host: routed by path to legacy, which sees its own Host and the client's in X-Forwarded-Host
    r = httpx.get(stack.url + "/host-probe", headers={"Host": f"127.0.0.1:{stack.bystander}"})
    assert r.headers["X-Served-By"] == "legacy"
    assert stack.received(stack.bystander) == []
    seen = [x for x in stack.received(stack.legacy) if x["path"] == "/host-probe"]
    assert seen and seen[0]["host"] == f"127.0.0.1:{stack.legacy}"
    assert seen[0]["headers"]["x-forwarded-host"] == f"127.0.0.1:{stack.bystander}"
    assert not any("probe" in x["path"] and x["path"] != "/host-probe" for x in stack.received(stack.legacy))
    # Host: mitm.it must not reach mitmproxy's onboarding app (it hands out the CA certificate)
    r = httpx.get(stack.url + "/mitm-probe", headers={"Host": "mitm.it"})
    assert r.headers["X-Served-By"] == "legacy" and b"mitmproxy" not in r.content
    assert any(x["path"] == "/mitm-probe" for x in stack.received(stack.legacy))


def test_upstream_timeout_is_a_quick_json_504(stack):
    stack.flip("new")
    try:
        r = httpx.get(stack.url + "/slow?s=4", timeout=10)
        assert r.status_code == 504 and r.json()["error"] == "upstream_timeout"
        assert r.headers["X-Request-ID"] == r.json()["request_id"]
    finally:
        stack.flip("legacy")


def test_breaker_opens_falls_back_and_recovers(stack):
    stack.flip("new")
    assert served_by(stack) == "svc"
    stack.stop_svc()
    try:
        statuses = []
        for _ in range(5):
            r = httpx.post(stack.url + "/api/things/1", json={}, timeout=10)
            statuses.append(r.status_code)
            assert r.headers["content-type"] == "application/json" and r.json()["error"]
        assert statuses[0] == 502 and statuses[-1] == 503
        assert r.json()["error"] == "upstream_unavailable"
        assert served_by(stack) == "legacy"  # GET falls back while the breaker is open
        assert "strangler_breaker_state{upstream=\"svc\"} 2.0" in stack.admin_call("GET", "/metrics").text
    finally:
        stack.start_svc()
    assert wait_until(lambda: served_by(stack) == "svc", timeout=15)
    assert httpx.post(stack.url + "/api/things/1", json={}).status_code == 200
    stack.flip("legacy")


def test_startup_without_admin_token_exits_with_the_fix(stack, tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "STRANGLER_ADMIN_TOKEN"}
    proc = subprocess.run(facade_argv(stack.legacy, free_port(), stack.routes, free_port(), tmp_path / "a.log"),
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "STRANGLER_ADMIN_TOKEN" in proc.stdout + proc.stderr and "secrets.token_urlsafe" in proc.stdout + proc.stderr


def test_access_log_lines(stack):
    served_by(stack, headers={"X-Request-ID": "integration-req-1"})
    path = stack.tmp / "access.jsonl"
    assert wait_until(lambda: "integration-req-1" in path.read_text(), timeout=5)
    line = next(json.loads(x) for x in path.read_text().splitlines() if "integration-req-1" in x)
    assert line["status"] == 200 and line["upstream"] == "legacy" and line["feature"] == "things"


def _counter(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


