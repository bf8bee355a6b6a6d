"""A killed service through a real mitmdump: every refused connection is a JSON 502 `upstream_unreachable`,
counted as a connect failure by the metrics and the breaker, however the client's connection got there:
kept alive to the service that then died mid-request (the retry-once path: its retry is refused), kept
alive to another upstream, or fresh."""
from __future__ import annotations

import os
import re
import signal
import socket
import threading

import httpx
import pytest

pytestmark = pytest.mark.integration


class DiesMidRequest:
    """Stands in for the service on its port: answers one request on a kept-alive connection, then, with the
    second request read, stops listening and closes that connection before any response byte — a process
    killed while a kept-alive request was in flight, made exact."""

    def __init__(self, port: int):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen()
        self.sock.settimeout(20)
        self.requests = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_head(self, conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        self.requests += 1

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(20)
                self._read_head(conn)
                body = b'{"served_by": "svc"}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
                self._read_head(conn)
                self.sock.close()  # the retry's connect is refused
        except OSError:
            pass
        finally:
            self.sock.close()


def errors_by_kind(stack) -> dict[str, float]:
    text = stack.admin_call("GET", "/metrics").text
    return {kind: float(n) for kind, n in
            re.findall(r'^strangler_upstream_errors_total\{kind="(\w+)",upstream="svc"\} (\S+)$', text, re.M)}


def unreachable(r: httpx.Response) -> None:
    assert r.status_code == 502, r.text
    body = r.json()
    assert body["error"] == "upstream_unreachable" and body["upstream"] == "svc", body
    assert r.headers["x-served-by"] == "facade"


def test_a_refused_connection_is_always_upstream_unreachable(stack):
    stack.flip("new")  # svc's breaker: 3 failures open it
    os.killpg(stack.svc_proc.pid, signal.SIGKILL)
    stack.svc_proc.wait(timeout=10)
    try:
        with httpx.Client(base_url=stack.url, timeout=10) as to_svc, \
                httpx.Client(base_url=stack.url, timeout=10) as to_legacy:
            dies = DiesMidRequest(stack.svc)
            assert to_svc.get("/api/things/1").json()["served_by"] == "svc"
            assert to_legacy.get("/api/legacy-only").json()["served_by"] == "legacy"
            unreachable(to_svc.get("/api/things/2"))  # closed before any byte: retried once, refused
            dies.thread.join(timeout=10)
            assert dies.requests == 2
            unreachable(to_legacy.get("/api/things/3"))
            unreachable(httpx.get(stack.url + "/api/things/4", timeout=10))  # a fresh client connection
        assert errors_by_kind(stack) == {"connect": 3.0}
        assert 'strangler_breaker_state{upstream="svc"} 2.0' in stack.admin_call("GET", "/metrics").text
    finally:
        stack.start_svc()
        stack.flip("legacy")
