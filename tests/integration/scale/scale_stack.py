"""Processes for the scale tests: tiny uvicorn upstreams and real mitmdump façades on free loopback ports."""
from __future__ import annotations

import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOKEN = "scale-test-token-0123456789"

ROUTES = """\
# scale tests: the comments must survive flips in the shared store too
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 30}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 30}}
default: legacy
limits: {{max_body_bytes: {max_body}}}
features:
  things:
    target: svc
    state: {state}   # flipped by the tests
    writes_owner: {writes_owner}
    routes:
      - {{methods: [GET], path: "/api/things"}}
      - {{methods: [POST], path: "/upload"}}
      - {{methods: [GET], path: "/download"}}
      - {{methods: [GET], path: "/ws"}}
"""


def routes_text(legacy: int, svc: int, *, state: str = "legacy", max_body: int = 10 * 1024 * 1024,
                writes_owner: str = "legacy") -> str:
    return ROUTES.format(legacy=legacy, svc=svc, state=state, max_body=max_body, writes_owner=writes_owner)


def upstream_argv(port: int) -> list[str]:
    return [str(BIN / "uvicorn"), "--app-dir", str(HERE), "scale_upstream:app", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]


def facade_argv(legacy: int, port: int, admin: int, *extra: str) -> list[str]:
    argv = [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{port}",
            "--set", "connection_strategy=lazy", "--set", "keep_host_header=true",
            "--set", "flow_detail=0", "--set", "termlog_verbosity=warn",
            "-s", str(ROOT / "proxy" / "facade.py"), "--set", f"strangler_admin_port={admin}"]
    for option in extra:
        argv += ["--set", option]
    return argv


def admin_flip(admin: int, to: str, feature: str = "things") -> dict:
    r = httpx.post(f"http://127.0.0.1:{admin}/flip", json={"feature": feature, "to": to, "reason": "scale test"},
                   headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def served_by(port: int, path: str = "/api/things") -> str:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5).headers.get("x-served-by", "")
