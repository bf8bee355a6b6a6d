"""Attacks on the façade's edge, written as raw bytes: it must never be an open proxy.

A `ForeignHost` (a second loopback listener, not an upstream of the table) stands for the host an attacker
wants to reach; every connection it accepts is counted, and the promise is that it counts none. Routing
probes are refused or answered by the table's default upstream; smuggling and header-injection probes must
be refused by the façade itself, never passed on for an upstream's parser to interpret.
"""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from strangler.procs import free_port

BROKEN_TABLE = "features: [this is not: a route table\n  state: {{\n"


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class ForeignHost:
    """A loopback listener counting the connections that reach it (a canary for forwarded traffic)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0
        lock = threading.Lock()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with lock:
                    outer.hits += 1
                self.request.settimeout(1)
                try:
                    self.request.recv(65536)
                    self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nforeign")
                except OSError:
                    pass

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def raw(port: int, data: bytes, timeout: float = 5.0, idle: float = 0.5) -> bytes:
    """Send raw bytes to the façade; read until it closes, or `idle` seconds pass without a byte after the
    first (long enough for a smuggled second answer to show up), or `timeout` before the first."""
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while len(out) < 1 << 20:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                out += chunk
                sock.settimeout(idle)
        except TimeoutError:
            pass
    return out


@dataclass
class ProbeResult:
    name: str
    answer: str  # the status lines the façade sent back ("" when it just closed the connection)
    served_by: list[str]  # X-Served-By of each answer
    refused: bool

    def line(self) -> str:
        return f"{self.name}: {self.answer or 'connection closed'}" + (
            f" (served by {', '.join(self.served_by)})" if any(self.served_by) else "")


def _statuses(out: bytes) -> tuple[list[int], list[str]]:
    """Status codes and X-Served-By of every HTTP response in `out` (more than one means a smuggled request)."""
    statuses, served = [], []
    for part in out.split(b"HTTP/1.1 ")[1:]:
        head = part.split(b"\r\n\r\n", 1)[0]
        code = head[:3]
        if not code.isdigit():
            continue
        statuses.append(int(code))
        by = [ln.split(b":", 1)[1].strip().decode() for ln in head.split(b"\r\n")
              if ln.lower().startswith(b"x-served-by:")]
        served.append(by[0] if by else "")
    return statuses, served


def open_proxy_probes(port: int, foreign: int, default_upstream: str = "legacy") -> list[ProbeResult]:
    """Every way we know to make the façade talk to `foreign` by routing: absolute-form, CONNECT, Host.
    Kept out = each answer is a 4xx of the façade or comes from `default_upstream` (the path routes, never
    the client's Host), at most one answer per connection."""
    target = f"127.0.0.1:{foreign}".encode()
    return _run(port, default_upstream, {
        "absolute-form to a foreign host": b"GET http://" + target + b"/abs HTTP/1.1\r\nHost: " + target + b"\r\n\r\n",
        "absolute-form to a public name": b"GET http://example.com/abs HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "CONNECT tunnel": b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n\r\n",
        "spoofed Host": b"GET /healthz HTTP/1.1\r\nHost: " + target + b"\r\nConnection: close\r\n\r\n",
        "CRLF in the path": (b"GET /healthz%0d%0aHost:%20" + target + b" HTTP/1.1\r\nHost: x\r\n"
                             b"Connection: close\r\n\r\n"),
        "Host: mitm.it (mitmproxy's own app)": b"GET /cert/pem HTTP/1.1\r\nHost: mitm.it\r\nConnection: close\r\n\r\n",
    })


def smuggling_probes(port: int, foreign: int) -> list[ProbeResult]:
    """Requests whose framing or header lines mean different things to different parsers (request smuggling,
    header injection). Kept out = the façade itself refuses (a 4xx of its own, or it closes): forwarding them
    leaves the decision to whichever upstream parser reads them next."""
    target = f"127.0.0.1:{foreign}".encode()
    smuggled = b"GET http://" + target + b"/smuggled HTTP/1.1\r\nHost: " + target + b"\r\n\r\n"
    chunked_smuggle = b"0\r\n\r\n" + smuggled
    return _run(port, None, {
        "smuggling CL+TE": (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n" % len(chunked_smuggle)) + chunked_smuggle,
        "smuggling TE+CL (obfuscated TE)": (b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                            b"Transfer-Encoding: x\r\nContent-Length: 4\r\n\r\n")
                                           + b"%x\r\n" % len(smuggled) + smuggled + b"\r\n0\r\n\r\n",
        "smuggling duplicate Content-Length": (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                                               b"Content-Length: %d\r\n\r\n" % len(smuggled)) + smuggled,
        "header injection (obs-fold Host)": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n Host: " + target
                                             + b"\r\nConnection: close\r\n\r\n"),
        "header injection (bare CR)": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rHost: " + target
                                       + b"\r\nConnection: close\r\n\r\n"),
    })


def _run(port: int, default_upstream: str | None, probes: dict[str, bytes]) -> list[ProbeResult]:
    results = []
    for name, data in probes.items():
        statuses, served = _statuses(raw(port, data))
        ok = len(statuses) <= 1 and all((400 <= s < 500 and by in ("facade", "")) or by == default_upstream
                                        for s, by in zip(statuses, served, strict=True))
        results.append(ProbeResult(name, ", ".join(str(s) for s in statuses), served, ok))
    return results


def oversize_probe(port: int, size: int = 12 << 20, sent: int = 64 << 10) -> tuple[str, float]:
    """Declare a `size`-byte body, send only its first `sent` bytes: the answer (a 413 is expected at once,
    not after the body) and the seconds it took ("" when nothing came back within 5 s)."""
    started = time.monotonic()
    head = b"POST /api/products HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
    statuses, _ = _statuses(raw(port, head % size + b"a" * sent))
    return ", ".join(map(str, statuses)), round(time.monotonic() - started, 3)


def break_table(routes: Path) -> str:
    """Write invalid YAML over the live route table; returns the good text to put back."""
    good = routes.read_text()
    routes.write_text(good + BROKEN_TABLE)
    return good
