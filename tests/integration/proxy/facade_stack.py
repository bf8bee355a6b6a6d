"""A real mitmdump façade (module scope) in front of two tiny uvicorn upstreams, all on free loopback ports."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from strangler.gates import SPEC as KIT_GATES
from strangler.procs import free_port, running, spawn, stop, wait_http

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOKEN = "integration-token-0123456789"

ROUTES = """\
# façade integration table (comments must survive flips)
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 1.0, breaker: {{failure_threshold: 3, open_seconds: 1.0}}}}
default: legacy
features:
  things:
    target: svc
    state: legacy
    writes_owner: service  # the service owns the writes: they follow it in every state (and allow retired)
    # routing tests: promotions are not judged on parity here
    promote: {{min_samples: 0, max_diff_rate: null, max_error_rate: null}}
    routes:
      - {{methods: [GET, POST], path: "/api/things/{{id}}"}}
      - {{methods: [GET], path: "/api/things"}}
      - {{methods: [GET], path: "/slow"}}
"""


def upstream_argv(name: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), "--app-dir", str(HERE), "upstream_app:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]


def facade_argv(legacy: int, port: int, routes: Path, admin: int, access_log: Path) -> list[str]:
    return [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{port}",
            "--set", "connection_strategy=lazy", "--set", "keep_host_header=true",
            "--set", "flow_detail=0", "--set", "termlog_verbosity=warn",
            "-s", str(ROOT / "proxy" / "facade.py"), "--set", f"strangler_routes={routes}",
            "--set", f"strangler_admin_port={admin}", "--set", f"strangler_access_log={access_log}",
            "--set", "strangler_reload_ms=100",
            "--set", f"strangler_gates={KIT_GATES}"]  # as `strangler up` hands them (STRANGLER_GATES)


@dataclass
class Stack:
    tmp: Path
    legacy: int
    svc: int
    bystander: int
    port: int
    admin: int
    routes: Path
    svc_proc: object = None
    logs: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin_call(self, method: str, path: str, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}", **kw.pop("headers", {})}
        return httpx.request(method, f"http://127.0.0.1:{self.admin}{path}", headers=headers, timeout=10, **kw)

    def flip(self, to: str, percent: float | None = None) -> dict:
        body = {"feature": "things", "to": to, "reason": "integration test"}
        if percent is not None:
            body["percent"] = percent
        r = self.admin_call("POST", "/flip", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def received(self, port: int) -> list[dict]:
        return httpx.get(f"http://127.0.0.1:{port}/__received", timeout=5).json()["received"]

    def stop_svc(self) -> None:
        stop(self.svc_proc)

    def start_svc(self, *, wait: bool = True) -> None:
        self.svc_proc = spawn(upstream_argv("svc", self.svc), env={"UPSTREAM_NAME": "svc"},
                              log_path=self.tmp / "svc.log")
        if wait:
            self.wait_svc()

    def wait_svc(self) -> None:
        wait_http(f"http://127.0.0.1:{self.svc}/healthz", timeout=20, proc=self.svc_proc)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("facade")
    s = Stack(tmp=tmp, legacy=free_port(), svc=free_port(), bystander=free_port(), port=free_port(),
              admin=free_port(), routes=tmp / "routes.yaml")
    s.routes.write_text(ROUTES.format(legacy=s.legacy, svc=s.svc))
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(tmp / "var")}
    with ExitStack() as stack:
        # the upstreams start while the façade does (it needs none to start); all healthy before the first test
        upstreams = {name: spawn(upstream_argv(name, port), env={"UPSTREAM_NAME": name}, log_path=tmp / f"{name}.log")
                     for name, port in (("legacy", s.legacy), ("bystander", s.bystander))}
        for proc in upstreams.values():
            stack.callback(stop, proc)
        s.start_svc(wait=False)
        stack.callback(lambda: s.svc_proc and stop(s.svc_proc))
        stack.enter_context(running(facade_argv(s.legacy, s.port, s.routes, s.admin, tmp / "access.jsonl"),
                                    health_url=f"http://127.0.0.1:{s.admin}/healthz", env=env, cwd=ROOT,
                                    log_path=tmp / "facade.log", timeout=40))
        for name, port in (("legacy", s.legacy), ("bystander", s.bystander)):
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, proc=upstreams[name],
                      log_path=tmp / f"{name}.log")
        s.wait_svc()
        yield s
