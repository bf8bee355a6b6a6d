"""A real façade (mitmdump + addons, started with tests/integration/proxy/facade_stack.py's helpers) in front
of two tiny uvicorn upstreams, with a parity store and an ownership file already under its var/ directory."""
from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))

from facade_stack import ROOT, TOKEN, facade_argv, upstream_argv

from proxy.parity import ParityStore, RequestInfo, Response, compare_exchange
from proxy.parity.normalise import Normaliser
from strangler.procs import free_port, running

ROUTES = """\
# dashboard integration table
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 2.0}}
default: legacy
features:
  things:
    target: svc
    state: canary
    canary_percent: 50
    routes:
      - {{methods: [GET], path: "/api/things/{{id}}"}}
      - {{methods: [GET], path: "/status/{{code}}"}}
    parity: {{ignore: ["$.served_by"]}}
    rollback: {{max_error_rate: 0.9, min_samples: 50}}
    promote: {{min_samples: 0, max_diff_rate: null, max_error_rate: null}}  # flips tested, not parity evidence
  widgets:
    target: svc
    state: legacy
    routes:
      - {{methods: [GET], path: "/api/widgets/{{id}}"}}
    promote: {{min_samples: 0, max_diff_rate: null, max_error_rate: null}}
"""


@dataclass
class DashStack:
    tmp: Path
    var: Path
    port: int
    admin: int
    routes: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin}"

    def traffic(self, requests: int) -> None:
        """A bounded burst through the façade: both sides of the canary, a few target errors, widgets."""
        with httpx.Client(timeout=5) as client:
            for i in range(requests):
                cohort = {"X-Strangler-Cohort": f"user-{i % 40}"}
                path = "/status/500" if i % 10 == 9 else f"/api/things/{i}" if i % 4 else f"/api/widgets/{i}"
                client.get(self.url + path, headers=cohort)


def seed_parity(var: Path) -> None:
    """Comparisons as the shadow addon would record them: 4 of 40 differ on one field."""
    norm = Normaliser()
    ref = Response.of(200, {"content-type": "application/json"}, b'{"Name": "a", "Price": "1.00", "Tags": []}')
    bad = Response.of(200, {"content-type": "application/json"}, b'{"Name": "a", "Price": "1.0", "Tags": []}')
    with ParityStore(var / "parity.db", background=False) as store:
        for i in range(40):
            store.record(compare_exchange(norm, feature="things", route="/api/things/{id}",
                                          request=RequestInfo.of("GET", f"/api/things/{i}"), reference=ref,
                                          candidate=bad if i % 10 == 0 else ref, latency_ms=3.0 + i % 5))


def seed_ownership(var: Path) -> None:
    (var / "ownership.json").write_text(json.dumps({"features": {"things": {
        "writes_owner": "legacy",
        "tables": {"THINGS": {"backfilled_at": "2026-01-01T10:00:00+00:00",
                              "verified_at": "2026-01-01T10:02:00+00:00", "rows": 1200},
                   "THING_TAGS": {"backfilled_at": "2026-01-01T10:00:30+00:00", "verified_at": None, "rows": 310}},
        "sync": {"direction": "forward", "lag_s": 0.4, "updated_at": "2026-01-01T10:05:00+00:00"}}}}))


@pytest.fixture(scope="module")
def dash(tmp_path_factory) -> Iterator[DashStack]:
    tmp = tmp_path_factory.mktemp("dashboard")
    legacy, svc = free_port(), free_port()
    s = DashStack(tmp=tmp, var=tmp / "var", port=free_port(), admin=free_port(), routes=tmp / "routes.yaml")
    s.var.mkdir()
    s.routes.write_text(ROUTES.format(legacy=legacy, svc=svc))
    seed_parity(s.var)
    seed_ownership(s.var)
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(s.var)}
    with ExitStack() as stack:
        for name, port in (("legacy", legacy), ("svc", svc)):
            stack.enter_context(running(upstream_argv(name, port), env={"UPSTREAM_NAME": name},
                                        health_url=f"http://127.0.0.1:{port}/healthz", log_path=tmp / f"{name}.log"))
        stack.enter_context(running(facade_argv(legacy, s.port, s.routes, s.admin, tmp / "access.jsonl"),
                                    health_url=f"{s.admin_url}/healthz", env=env, cwd=ROOT,
                                    log_path=tmp / "facade.log", timeout=40))
        yield s


class Background:
    """Traffic in a thread while the browser polls, so the charts have points; bounded in count and time."""

    def __init__(self, stack: DashStack, bursts: int = 20, per_burst: int = 10, pause_s: float = 0.5):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stack, bursts, per_burst, pause_s), daemon=True)

    def _run(self, stack: DashStack, bursts: int, per_burst: int, pause_s: float) -> None:
        for _ in range(bursts):
            if self._stop.is_set():
                return
            stack.traffic(per_burst)
            self._stop.wait(pause_s)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
