"""Issue 16 through a real mitmdump: oversize bodies get a quick 413, and a failing service never causes 502s.

The service behind the feature (state `new`) is a real FastAPI app on uvicorn (crash_app.py): after an
unhandled error uvicorn closes the kept-alive connection. A second, hand-written upstream (`Dropper`) closes
a connection without answering, on demand, so retries can be observed exactly, and it answers a kept-alive 500
then drops the next request sent on that connection: uvicorn's close after an error, without its race (here
uvicorn's close usually reaches the façade before the next request does, so crash_app alone passes even
without the fix).
"""
from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from contextlib import ExitStack

import httpx
import pytest
from facade_stack import HERE, TOKEN, facade_argv, upstream_argv

from strangler.procs import free_port, running

pytestmark = pytest.mark.integration
MIB = 1024 * 1024
LIMIT = 10 * MIB  # the route table's default limits.max_body_bytes (streaming starts above 4 MiB)

ROUTES = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 5, breaker: {{failure_threshold: 2, open_seconds: 30}}}}
  dropper: {{url: "http://127.0.0.1:{dropper}", timeout_s: 1, breaker: {{failure_threshold: 2, open_seconds: 30}}}}
default: legacy
features:
  things:
    target: svc
    state: new
    writes_owner: service
    routes:
      - {{methods: [GET, POST, PUT, DELETE], path: "/api/things/{{id}}"}}
  flaky:
    target: dropper
    state: new
    writes_owner: service
    routes:
      - {{methods: [GET, POST, PUT, DELETE], path: "/api/flaky/{{id}}"}}
"""


class Dropper:
    """HTTP/1.1 keep-alive upstream on a raw socket: `/api/flaky/drop-*` is dropped (connection closed before
    any response byte) the first time each method+path arrives on a connection that already served a request;
    `/api/flaky/always` is dropped every time, `/api/flaky/slow` answers after 3 s. `/api/flaky/crash` answers
    a kept-alive 500, then drops the next request that arrives on that connection (counted) and closes it.
    Everything else: 200. Counts every arrival."""

    def __init__(self):
        self.arrivals: Counter[str] = Counter()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        buf, served = b"", 0
        with conn:
            conn.settimeout(30)
            while True:
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                length = next((int(v) for k, _, v in (ln.partition(":") for ln in lines[1:])
                               if k.strip().lower() == "content-length"), 0)
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                key = f"{method} {path}"
                self.arrivals[key] += 1
                if path == "/healthz":
                    pass
                elif path == "/api/flaky/slow":
                    time.sleep(3)  # past the upstream's timeout_s
                elif path == "/api/flaky/always" or (path.startswith("/api/flaky/drop-") and served
                                                     and self.arrivals[key] == 1):
                    return  # closed before any response byte
                elif path == "/api/flaky/crash":
                    self._crash(conn)
                    return
                body = json.dumps({"served_by": "dropper", "method": method, "path": path}).encode()
                try:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(body), body))
                except OSError:
                    return
                served += 1

    def _crash(self, conn: socket.socket):
        """A kept-alive 500 (no `Connection: close`), then the next request on this connection is read and
        dropped unanswered: what uvicorn does to a request that arrives before it closes after an error."""
        body = b'{"error": "unhandled bug in the service"}'
        try:
            conn.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            conn.settimeout(5)  # bounded: with no next request, close after 5 s
            late = conn.recv(65536)
        except OSError:
            return
        if late:  # b"" when the façade closed the connection itself (the fix)
            method, path = late.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
            self.arrivals[f"{method} {path}"] += 1

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def hstack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hardening")
    legacy, svc, port, admin = free_port(), free_port(), free_port(), free_port()
    dropper = Dropper()
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(legacy=legacy, svc=svc, dropper=dropper.port))
    svc_argv = upstream_argv("svc", svc)
    svc_argv[svc_argv.index("upstream_app:app")] = "crash_app:app"
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(tmp / "var")}
    with ExitStack() as stack:
        stack.callback(dropper.close)
        stack.enter_context(running(upstream_argv("legacy", legacy), env={"UPSTREAM_NAME": "legacy"},
                                    health_url=f"http://127.0.0.1:{legacy}/healthz", log_path=tmp / "legacy.log"))
        stack.enter_context(running(svc_argv, health_url=f"http://127.0.0.1:{svc}/healthz",
                                    log_path=tmp / "svc.log"))
        stack.enter_context(running(facade_argv(legacy, port, routes, admin, tmp / "access.jsonl"),
                                    health_url=f"http://127.0.0.1:{admin}/healthz", env=env,
                                    cwd=HERE.parents[2], log_path=tmp / "facade.log", timeout=40))
        yield {"url": f"http://127.0.0.1:{port}", "port": port, "admin": admin, "svc": svc, "dropper": dropper,
               "log": tmp / "facade.log", "access": tmp / "access.jsonl"}


def metrics(hstack) -> str:
    return httpx.get(f"http://127.0.0.1:{hstack['admin']}/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=10).text


def read_response(sock: socket.socket, timeout: float = 20.0) -> tuple[int, dict, bytes, bool]:
    """Status, headers, body of one response; and whether the façade then closed the connection."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the response body"
        body += chunk
    closed = False
    if headers.get("connection", "").lower() == "close":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    closed = True
                    break
            except ConnectionResetError:
                break
    return int(lines[0].split()[1]), headers, body[:length], closed


def body_too_large(status: int, body: bytes) -> dict:
    assert status == 413, body
    doc = json.loads(body)
    assert doc["error"] == "body_too_large" and str(LIMIT) in doc["message"] and "Fix:" in doc["message"]
    return doc


# ---------------------------------------------------------------- defect 1: oversize bodies
@pytest.mark.parametrize("size", [12 * MIB, 64 * MIB])
def test_declared_oversize_body_gets_413_before_any_body_byte(hstack, size):
    with socket.create_connection(("127.0.0.1", hstack["port"]), timeout=20) as sock:
        sock.sendall(b"POST /api/things/1 HTTP/1.1\r\nHost: shop\r\nContent-Type: application/octet-stream\r\n"
                     b"Content-Length: %d\r\n\r\n" % size)
        status, headers, body, closed = read_response(sock)
    body_too_large(status, body)
    assert headers["connection"].lower() == "close" and closed, "the façade must close the connection cleanly"


def test_client_that_sends_the_whole_oversize_body_still_reads_the_413(hstack):
    r = httpx.post(hstack["url"] + "/api/things/1", content=b"a" * (12 * MIB), timeout=60)
    body_too_large(r.status_code, r.content)


def test_chunked_oversize_upload_gets_413_once_past_the_limit(hstack):
    def chunks():
        for _ in range(12 * 4):
            yield b"c" * (MIB // 4)
    r = httpx.post(hstack["url"] + "/api/things/1", content=chunks(), timeout=60)
    body_too_large(r.status_code, r.content)


def test_chunked_oversize_upload_after_100_continue_gets_413(hstack):
    """curl's way: `Expect: 100-continue`, then chunks; the 413 comes after mitmproxy's `100 Continue`."""
    with socket.create_connection(("127.0.0.1", hstack["port"]), timeout=20) as sock:
        sock.sendall(b"POST /api/things/1 HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100")
        chunk = b"%x\r\n%s\r\n" % (MIB // 4, b"e" * (MIB // 4))
        try:
            for _ in range(11 * 4):  # 11 MiB: past the limit (the façade reads and drops the rest)
                sock.sendall(chunk)
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the façade may have ended its lingering close already; the 413 is still in our buffer
        status, _, body, closed = read_response(sock)
    body_too_large(status, body)
    assert closed


def test_bodies_between_streaming_threshold_and_limit_stream_through(hstack):
    r = httpx.post(hstack["url"] + "/api/things/1", content=b"s" * (6 * MIB), timeout=60)
    assert r.status_code == 200 and r.json() == {"served_by": "svc", "method": "POST", "id": "1", "bytes": 6 * MIB}

    def chunks():
        for _ in range(6):
            yield b"t" * MIB
    r = httpx.post(hstack["url"] + "/api/things/1", content=chunks(), timeout=60)
    assert r.status_code == 200 and r.json()["bytes"] == 6 * MIB


def test_oversize_bodies_leave_one_log_line_each_and_no_body_bytes(hstack):
    text = hstack["log"].read_text(errors="replace")
    assert "crashed" not in text and "Traceback" not in text, text[-3000:]
    for filler in ("aaaaaaaa", "cccccccc", "eeeeeeee", "ssssssss", "tttttttt"):
        assert filler not in text, "request body bytes reached the façade log"
    lines = [ln for ln in text.splitlines() if "body_too_large" in ln or "413" in ln]
    assert len(lines) == 5, lines  # the five refusals above (12 MiB, 64 MiB, full 12 MiB, chunked x2)
    assert 'reason="body_too_large"} 5.0' in metrics(hstack)


# ---------------------------------------------------------------- defect 2: no 502 after an upstream error
def test_no_502_after_the_service_crashes_on_a_kept_alive_connection(hstack):
    with httpx.Client(base_url=hstack["url"], timeout=20) as client:
        for i in range(5):
            assert client.get("/api/things/boom").status_code == 500
            r = client.get(f"/api/things/ka{i}")
            assert r.status_code == 200 and r.json()["served_by"] == "svc", r.text
            assert client.get("/api/things/boom").status_code == 500
            r = client.post(f"/api/things/ka{i}", content=b"{}")  # never retried, so it must not meet a dead conn
            assert r.status_code == 200 and r.json()["method"] == "POST", r.text
    arrivals = httpx.get(f"http://127.0.0.1:{hstack['svc']}/__arrivals", timeout=10).json()
    assert all(arrivals[f"{m} ka{i}"] == 1 for m in ("GET", "POST") for i in range(5)), arrivals
    assert 'strangler_upstream_errors_total{kind="protocol",upstream="svc"}' not in metrics(hstack)


def test_a_connection_that_answered_5xx_is_never_reused(hstack):
    """Defect 2 without a race: each request after a kept-alive 500 would meet a connection the upstream drops.
    The façade closes it after the 500, so the POST (never retried) is served and the GET arrives once (a
    reused connection would show two arrivals: the dropped one and its retry)."""
    dropper = hstack["dropper"]
    with httpx.Client(base_url=hstack["url"], timeout=20) as client:
        for i in range(3):
            assert client.get("/api/flaky/crash").status_code == 500
            r = client.post(f"/api/flaky/after-500-post{i}", content=b"{}")
            assert r.status_code == 200 and r.json()["method"] == "POST", r.text
            assert client.get("/api/flaky/crash").status_code == 500
            r = client.get(f"/api/flaky/after-500-get{i}")
            assert r.status_code == 200 and r.json()["method"] == "GET", r.text
    assert {key: n for key, n in dropper.arrivals.items() if "after-500" in key} == {
        f"{m} /api/flaky/after-500-{m.lower()}{i}": 1 for m in ("GET", "POST") for i in range(3)}


def test_idempotent_request_on_a_dropped_connection_is_retried_once(hstack):
    dropper = hstack["dropper"]
    with httpx.Client(base_url=hstack["url"], timeout=20) as client:
        for method in ("GET", "PUT", "DELETE"):
            assert client.get("/api/flaky/warm").status_code == 200  # the next request reuses that connection
            r = client.request(method, f"/api/flaky/drop-{method.lower()}", content=b"{}" if method == "PUT" else None)
            assert r.status_code == 200 and r.json()["served_by"] == "dropper", r.text
            assert dropper.arrivals[f"{method} /api/flaky/drop-{method.lower()}"] == 2  # dropped, then retried
    text = metrics(hstack)
    assert 'strangler_upstream_errors_total{kind="protocol",upstream="dropper"}' not in text
    assert 'strangler_breaker_state{upstream="dropper"} 0.0' in text


def test_post_is_never_retried_and_a_dropped_kept_alive_post_does_not_trip_the_breaker(hstack):
    dropper = hstack["dropper"]
    with httpx.Client(base_url=hstack["url"], timeout=20) as client:
        for i in range(3):  # failure_threshold is 2: three counted failures would open the breaker
            assert client.get("/api/flaky/warm").status_code == 200
            r = client.post(f"/api/flaky/drop-post{i}", content=b"{}")
            assert r.status_code == 502 and r.json()["error"] == "bad_gateway", r.text
            assert dropper.arrivals[f"POST /api/flaky/drop-post{i}"] == 1
    assert 'strangler_breaker_state{upstream="dropper"} 0.0' in metrics(hstack)


def test_a_retry_happens_once_and_a_real_failure_still_counts(hstack):
    dropper = hstack["dropper"]
    r = httpx.get(hstack["url"] + "/api/flaky/always", timeout=20)
    assert r.status_code == 502 and r.json()["error"] == "bad_gateway"
    assert dropper.arrivals["GET /api/flaky/always"] == 1  # a fresh connection dropped it: no retry
    with httpx.Client(base_url=hstack["url"], timeout=20) as client:
        assert client.get("/api/flaky/warm").status_code == 200
        assert client.get("/api/flaky/always").status_code == 502
    assert dropper.arrivals["GET /api/flaky/always"] == 3  # reused connection dropped it: retried once, no more
    assert 'strangler_upstream_errors_total{kind="protocol",upstream="dropper"} 2.0' in metrics(hstack)


def test_a_timeout_on_a_kept_alive_connection_is_not_retried(hstack):
    with httpx.Client(base_url=hstack["url"], timeout=20) as client:
        assert client.get("/api/flaky/warm").status_code == 200
        r = client.get("/api/flaky/slow")
    assert r.status_code == 504 and r.json()["error"] == "upstream_timeout", r.text
    assert hstack["dropper"].arrivals["GET /api/flaky/slow"] == 1


def test_a_streamed_body_refused_by_an_open_breaker_is_answered_at_once(hstack):
    for _ in range(3):  # failures on fresh connections open the dropper's breaker (threshold 2, open 30 s)
        if 'strangler_breaker_state{upstream="dropper"} 2.0' in metrics(hstack):
            break
        httpx.get(hstack["url"] + "/api/flaky/always", timeout=20)
    assert 'strangler_breaker_state{upstream="dropper"} 2.0' in metrics(hstack)
    r = httpx.post(hstack["url"] + "/api/flaky/big", content=b"b" * (6 * MIB), timeout=60)  # streamed (> 4 MiB)
    assert r.status_code == 503 and r.json()["error"] == "upstream_unavailable", r.text
    assert r.headers["retry-after"] == "1"
    assert hstack["dropper"].arrivals["POST /api/flaky/big"] == 0
    text = hstack["log"].read_text(errors="replace")
    assert "crashed" not in text and "bbbbbbbb" not in text
