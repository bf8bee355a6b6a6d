"""Real processes for the remote-identity tests, on free loopback ports and always stopped: the recipe box's
Flask-Login monolith under gunicorn, its FastAPI twin under uvicorn, two uncooperative identity sources, and
mitmdump running the kit's façade (proxy/facade.py) in front of them."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
FIXTURES = REPO / "tests" / "fixtures"
BIN = Path(sys.executable).parent
IDENTITY_KEY = "integration-identity-key-0123456789abcdef"
ADMIN_TOKEN = "identity-admin-token-0123456789"
ROUTES = """\
# remote identity integration table
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  twin: {{url: "http://127.0.0.1:{twin}", timeout_s: 5}}
  closer: {{url: "http://127.0.0.1:{closer}", timeout_s: 2}}
  slow: {{url: "http://127.0.0.1:{slow}", timeout_s: 1}}
default: legacy
cohort: {{header: X-Strangler-Cohort}}
features:
  recipes:
    target: twin
    state: {state}
    canary_percent: {percent}
    identity: remote
    routes:
      - {{methods: [GET], path: "/api/recipes/mine"}}
  pantry:
    target: twin
    state: new
    identity: {{mode: remote, source: {pantry_source}}}
    routes:
      - {{methods: [GET], path: "/api/pantry/mine"}}
"""


@dataclass
class Stack:
    tmp: Path
    facade: str
    legacy: str
    twin: str
    routes: Path
    ports: dict[str, int]

    def set_table(self, state: str, percent: int = 0, pantry_source: str = "closer") -> None:
        self.routes.write_text(ROUTES.format(state=state, percent=percent, pantry_source=pantry_source,
                                             **self.ports))


def facade_argv(legacy: str, facade_port: int, admin_port: int, routes: Path, parity_db: Path) -> list[str]:
    """mitmdump running the kit's façade in front of `legacy`, reloading the table every 100 ms."""
    return [str(BIN / "mitmdump"), "--mode", f"reverse:{legacy}@127.0.0.1:{facade_port}",
            "--set", "connection_strategy=lazy", "--set", "keep_host_header=true", "--set", "flow_detail=0",
            "--set", "termlog_verbosity=warn", "-s", str(REPO / "proxy" / "facade.py"),
            "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin_port}",
            "--set", f"strangler_parity_db={parity_db}",
            "--set", "strangler_reload_ms=100"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("identity-stack")
    ports = {name: free_port() for name in ("legacy", "twin", "closer", "slow")}
    facade_port, admin_port = free_port(), free_port()
    env = {"STRANGLER_IDENTITY_KEY": IDENTITY_KEY, "STRANGLER_VAR_DIR": str(tmp / "var"),
           "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN}
    legacy, twin = f"http://127.0.0.1:{ports['legacy']}", f"http://127.0.0.1:{ports['twin']}"
    routes = tmp / "routes.yaml"
    s = Stack(tmp, f"http://127.0.0.1:{facade_port}", legacy, twin, routes, ports)
    s.set_table("legacy")
    with ExitStack() as procs:
        procs.enter_context(running(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--no-control-socket",
             "--chdir", str(FIXTURES), "-b", legacy.removeprefix("http://"), "recipebox_flask:app"],
            health_url=f"{legacy}/healthz", env=env, cwd=REPO, log_path=tmp / "legacy.log"))
        procs.enter_context(running(
            [sys.executable, "-m", "uvicorn", "--app-dir", str(FIXTURES), "recipebox_fastapi:app", "--host",
             "127.0.0.1", "--port", str(ports["twin"]), "--log-level", "warning", "--no-access-log"],
            health_url=f"{twin}/healthz", env=env, cwd=REPO, log_path=tmp / "twin.log"))
        for mode in ("closer", "slow"):
            procs.enter_context(running(
                [sys.executable, str(HERE / "uncooperative.py"), str(ports[mode])],
                health_url=f"http://127.0.0.1:{ports[mode]}/healthz",
                env={"UNCOOPERATIVE": "close" if mode == "closer" else "slow"}, log_path=tmp / f"{mode}.log"))
        procs.enter_context(running(
            facade_argv(legacy, facade_port, admin_port, routes, tmp / "parity.db"),
            health_url=f"http://127.0.0.1:{admin_port}/healthz",
            env=env, cwd=REPO, log_path=tmp / "facade.log", timeout=40))
        yield s
