"""Helpers for the nginx export tests. One module-scoped stack: two tiny upstreams, the SAME route table behind a real
façade (mitmdump) and a real nginx exported from it, plus the out-of-band comparator nginx mirrors shadowed requests
to."""
from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from proxy.table import load_table
from strangler.export.nginx import NginxOptions, render
from strangler.procs import free_port, running

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))
from facade_stack import ROOT, TOKEN, facade_argv, upstream_argv

BIN = Path(sys.executable).parent
CANARY_PERCENT = 30

TABLE = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 2, dry_run_writes: true}}
  dead: {{url: "http://127.0.0.1:{dead}", timeout_s: 1}}
default: legacy
features:
  items:
    target: svc
    state: legacy
    routes:
      - {{methods: [GET, POST], path: "/api/items/{{id}}"}}
  special:
    target: svc
    state: new
    routes:
      - {{methods: [GET], path: "/api/items/special"}}
      - {{methods: [GET, PUT], path: "/api/gone/{{id}}/x"}}
  archive:
    target: svc
    state: retired
    routes:
      - {{methods: ["*"], path: "/api/archive/{{rest:path}}"}}
  fallback:
    target: dead
    state: new
    writes_owner: service  # its writes are the dead target's: they fail, never redirected to legacy
    routes:
      - {{methods: [GET, POST], path: "/api/fallback/{{id}}"}}
  cohort:
    target: svc
    state: canary
    canary_percent: {canary}
    routes:
      - {{methods: [GET], path: "/api/canary"}}
  same:
    target: svc
    state: shadow
    parity: {{ignore: ["$.served_by"], noise_sample_rate: 1.0}}
    routes:
      - {{methods: [GET, POST], path: "/api/same/{{id}}"}}
  differs:
    target: svc
    state: shadow
    parity: {{noise_sample_rate: 0.0}}
    routes:
      - {{methods: [GET], path: "/api/differs"}}
"""


@dataclass
class NginxStack:
    tmp: Path
    legacy: int
    svc: int
    nginx: int
    facade: int
    comparator: int
    routes: Path
    parity_db: Path

    def url(self, side: str) -> str:
        return f"http://127.0.0.1:{self.nginx if side == 'nginx' else self.facade}"


def nginx_argv(prefix: Path) -> list[str]:
    return [shutil.which("nginx") or "nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"),
            "-e", str(prefix / "error.log"), "-g", "daemon off;"]


@pytest.fixture(scope="module")
def nginx_stack(tmp_path_factory) -> Iterator[NginxStack]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (scripts/system-deps installs it for `make test`)")
    tmp = tmp_path_factory.mktemp("nginx-export")
    s = NginxStack(tmp, free_port(), free_port(), free_port(), free_port(), free_port(), tmp / "routes.yaml",
                   tmp / "comparator-parity.db")
    s.routes.write_text(TABLE.format(legacy=s.legacy, svc=s.svc, dead=free_port(), canary=CANARY_PERCENT))
    prefix = tmp / "nginx"
    (prefix / "tmp").mkdir(parents=True)
    conf = render(load_table(s.routes), NginxOptions(listen=f"127.0.0.1:{s.nginx}",
                                                     comparator=f"http://127.0.0.1:{s.comparator}", standalone=True))
    (prefix / "nginx.conf").write_text(conf)
    env = {"STRANGLER_ADMIN_TOKEN": TOKEN, "STRANGLER_VAR_DIR": str(tmp / "var"),
           "STRANGLER_SHADOW_KEY": "export-test-shadow-key"}
    with ExitStack() as stack:
        for name, port in (("legacy", s.legacy), ("svc", s.svc)):
            cooperates = {"UPSTREAM_DRY_RUN_KEY": env["STRANGLER_SHADOW_KEY"]} if name == "svc" else {}
            stack.enter_context(running(upstream_argv(name, port), env={"UPSTREAM_NAME": name, **cooperates},
                                        health_url=f"http://127.0.0.1:{port}/healthz", log_path=tmp / f"{name}.log"))
        stack.enter_context(running(
            [str(BIN / "python"), "-m", "proxy.comparator", "--routes", str(s.routes), "--port", str(s.comparator),
             "--db", str(s.parity_db)], env=env, cwd=ROOT,
            health_url=f"http://127.0.0.1:{s.comparator}/healthz", log_path=tmp / "comparator.log"))
        stack.enter_context(running(nginx_argv(prefix), health_url=f"http://127.0.0.1:{s.nginx}/healthz",
                                    log_path=tmp / "nginx.out"))
        admin = free_port()
        stack.enter_context(running(facade_argv(s.legacy, s.facade, s.routes, admin, tmp / "access.jsonl"),
                                    health_url=f"http://127.0.0.1:{admin}/healthz", env=env, cwd=ROOT,
                                    log_path=tmp / "facade.log", timeout=40))
        yield s
