"""TLS, WebSocket and large streamed bodies through a real mitmdump façade (file-backed table, state `new`,
so every request below must be routed to `svc` — including streamed uploads whose headers leave early)."""
from __future__ import annotations

import hashlib
import ssl
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from scale_stack import TOKEN, facade_argv, routes_text, upstream_argv
from scale_upstream import MIB, pattern_chunk
from websockets.sync.client import connect as ws_connect

from strangler.cli.tls import make_selfsigned
from strangler.procs import free_port, running

pytestmark = pytest.mark.integration
BIG_MB = 50


@pytest.fixture(scope="module")
def facade(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("protocols")
    legacy, svc, port, admin = free_port(), free_port(), free_port(), free_port()
    cert, key = make_selfsigned(["127.0.0.1", "localhost"])
    (tmp / "cert.pem").write_bytes(cert)
    (tmp / "key.pem").write_bytes(key)
    routes = tmp / "routes.yaml"
    routes.write_text(routes_text(legacy, svc, state="new", max_body=100 * MIB, writes_owner="service"))
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(tmp / "var")}
    with ExitStack() as stack:
        for name, up in (("legacy", legacy), ("svc", svc)):
            stack.enter_context(running(upstream_argv(up), env={"UPSTREAM_NAME": name},
                                        health_url=f"http://127.0.0.1:{up}/healthz", log_path=tmp / f"{name}.log"))
        proc = stack.enter_context(running(
            facade_argv(legacy, port, admin, f"strangler_routes={routes}", f"strangler_tls_cert={tmp / 'cert.pem'}",
                        f"strangler_tls_key={tmp / 'key.pem'}", "strangler_stream_bytes=1m",
                        f"confdir={tmp / 'mitmproxy'}"),
            health_url=f"http://127.0.0.1:{admin}/healthz", env=env, log_path=tmp / "facade.log", timeout=40))
        yield {"port": port, "admin": admin, "cert": tmp / "cert.pem", "pid": proc.pid}


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc status")


def test_https_with_the_users_certificate_is_routed(facade):
    ctx = ssl.create_default_context(cafile=str(facade["cert"]))
    r = httpx.get(f"https://127.0.0.1:{facade['port']}/api/things", verify=ctx, timeout=10)
    assert r.status_code == 200
    assert r.headers["x-served-by"] == "svc" and r.json()["served_by"] == "svc"
    with pytest.raises(httpx.ConnectError):  # the façade presents THAT certificate, not mitmproxy's CA-made one
        httpx.get(f"https://127.0.0.1:{facade['port']}/api/things", verify=ssl.create_default_context(), timeout=10)
    assert httpx.get(f"http://127.0.0.1:{facade['port']}/", timeout=10).headers["x-served-by"] == "legacy"


def test_websocket_upgrade_passes_through_both_ways(facade):
    with ws_connect(f"ws://127.0.0.1:{facade['port']}/ws", open_timeout=10) as ws:
        for text in ("hello", "second message"):
            ws.send(text)
            assert ws.recv(timeout=10) == f"svc:{text}"
        ws.send(b"\x00\x01binary")
        assert ws.recv(timeout=10) == b"\x00\x01binary"
    ctx = ssl.create_default_context(cafile=str(facade["cert"]))
    with ws_connect(f"wss://127.0.0.1:{facade['port']}/ws", ssl=ctx, open_timeout=10) as ws:
        ws.send("over tls")
        assert ws.recv(timeout=10) == "svc:over tls"


def test_large_bodies_stream_through_intact(facade):
    port, pid = facade["port"], facade["pid"]
    httpx.get(f"http://127.0.0.1:{port}/api/things", timeout=10)
    before = _vm_hwm_kib(pid)
    chunk = pattern_chunk()
    expected = hashlib.sha256(chunk * BIG_MB).hexdigest()

    body = chunk * BIG_MB  # with Content-Length: mitmproxy decides to stream before the headers hook
    r = httpx.post(f"http://127.0.0.1:{port}/upload", content=body, timeout=120)
    del body
    assert r.status_code == 200, r.text
    assert r.json() == {"served_by": "svc", "bytes": BIG_MB * MIB, "sha256": expected}

    def chunks():  # chunked, size unknown: the guard streams it from the start and routes it early
        for _ in range(BIG_MB):
            yield chunk
    r = httpx.post(f"http://127.0.0.1:{port}/upload", content=chunks(), timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["served_by"] == "svc" and r.json()["sha256"] == expected

    digest, size = hashlib.sha256(), 0
    with httpx.stream("GET", f"http://127.0.0.1:{port}/download?mb={BIG_MB}", timeout=120) as resp:
        assert resp.status_code == 200 and resp.headers["x-served-by"] == "svc"
        for part in resp.iter_raw():
            digest.update(part)
            size += len(part)
    assert size == BIG_MB * MIB and digest.hexdigest() == expected
    grown_mib = (_vm_hwm_kib(pid) - before) / 1024
    print(f"\nmitmdump VmHWM grew {grown_mib:.1f} MiB over {BIG_MB} MiB up (x2) and down (peak before: "
          f"{before / 1024:.0f} MiB)")
    assert grown_mib < BIG_MB / 2, f"the façade buffered: peak memory grew {grown_mib:.0f} MiB"
    metrics = httpx.get(f"http://127.0.0.1:{facade['admin']}/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=5).text
    assert 'strangler_streamed_total{direction="request"} 2.0' in metrics


def test_streamed_chunked_upload_over_the_limit_is_cut(facade):
    def chunks():
        for _ in range(110):  # 110 MiB > limits.max_body_bytes (100 MiB)
            yield pattern_chunk()
    try:
        r = httpx.post(f"http://127.0.0.1:{facade['port']}/upload", content=chunks(),
                       timeout=httpx.Timeout(60, write=5))
    except httpx.TransportError:
        pass  # cut while the client was still writing (it never reads the 413 before finishing its upload)
    else:
        assert r.status_code == 413 and r.json()["error"] == "body_too_large", r.text
    metrics = httpx.get(f"http://127.0.0.1:{facade['admin']}/metrics", headers={"Authorization": f"Bearer {TOKEN}"},
                        timeout=5).text
    assert 'reason="body_too_large"} 1.0' in metrics, "the over-limit upload was not refused by the façade"
    assert httpx.get(f"http://127.0.0.1:{facade['port']}/api/things", timeout=10).status_code == 200
