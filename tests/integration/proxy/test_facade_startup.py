"""Clients that arrive while the façade is still starting must not kill it.

mitmproxy opens its listeners, and the façade its admin API, before mitmproxy's TLS addon loads the CA store;
a request in that window crashed TlsConfig.request, and an error logged during start-up makes mitmdump exit
(seen in CI: the first test of a stack met "connection refused"). Here clients hammer the proxy port and the
admin /healthz from the moment mitmdump starts, with the default confdir in a fresh HOME (the CA is generated
first: the widest window); the façade must come up, stay up and serve. Bounded: at most 60 s of polling."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from strangler.procs import free_port, spawn, stop, wait_http
from tests.integration.proxy.facade_stack import ROUTES, TOKEN, facade_argv, upstream_argv

pytestmark = pytest.mark.integration


def _hammer(url: str, until: threading.Event, answers: list[int]) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=5) as client:
        while not until.is_set() and time.monotonic() < deadline:
            try:
                answers.append(client.get(url).status_code)
            except httpx.HTTPError:
                time.sleep(0.001)  # not listening yet (or gone: the assertions below tell which)


def test_requests_during_start_up_do_not_kill_the_facade(tmp_path: Path) -> None:
    legacy, svc, port, admin = (free_port() for _ in range(4))
    routes = tmp_path / "routes.yaml"
    # recording on: the façade then starts its writer process in `running`, an await during which early
    # requests are served (as in the stack where CI met the crash)
    routes.write_text(ROUTES.format(legacy=legacy, svc=svc) + "record: {rate: 1.0}\n")
    upstream = spawn(upstream_argv("legacy", legacy), env={"UPSTREAM_NAME": "legacy"}, log_path=tmp_path / "up.log")
    facade = None
    done = threading.Event()
    answers: dict[str, list[int]] = {"proxy": [], "health": []}
    try:
        wait_http(f"http://127.0.0.1:{legacy}/__received", timeout=30, proc=upstream)
        hammers = [threading.Thread(target=_hammer, args=(url, done, answers[name]), daemon=True)
                   for name, url in (("proxy", f"http://127.0.0.1:{port}/api/things/1"),
                                     ("health", f"http://127.0.0.1:{admin}/healthz"))]
        for hammer in hammers:
            hammer.start()
        # confdir NOT set (mitmproxy then loads its CA store only in TlsConfig.running: the window), and a fresh
        # HOME, so the default ~/.mitmproxy is created and its CA generated at start-up (the widest window)
        facade = spawn(facade_argv(legacy, port, routes, admin, tmp_path / "access.jsonl"),
                       env={"STRANGLER_ADMIN_TOKEN": TOKEN, "HOME": str(tmp_path)}, log_path=tmp_path / "facade.log")
        wait_http(f"http://127.0.0.1:{admin}/healthz", timeout=40, proc=facade, log_path=tmp_path / "facade.log")
        deadline = time.monotonic() + 30
        while len(answers["proxy"]) < 20 and time.monotonic() < deadline and facade.poll() is None:
            time.sleep(0.05)
        done.set()
        for hammer in hammers:
            hammer.join(10)
        log = (tmp_path / "facade.log").read_text(errors="replace")
        assert facade.poll() is None, f"the façade exited ({facade.returncode}) while clients came early:\n{log}"
        assert "Traceback" not in log and "Addon error" not in log, log
        assert answers["proxy"] and set(answers["proxy"]) == {200}, answers["proxy"][:20]
        assert httpx.get(f"http://127.0.0.1:{port}/api/things/2", timeout=10).json()["served_by"] == "legacy"
    finally:
        done.set()
        if facade is not None:
            stop(facade)
        stop(upstream)
