"""Real processes for the dry-run safety tests, on free loopback ports and always stopped: two instances of a
third-party FastAPI app (tests/fixtures/loans_app.py: legacy, and the shadow target — with or without the
strangler adapter) and mitmdump running the façade addons in front of them."""
from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from proxy.parity import ParityStore
from strangler.procs import free_port, running, spawn, stop, wait_http
from tests.integration.shadow.conftest import facade_argv

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
BIN = Path(sys.executable).parent
SHADOW_KEY = "dry-run-integration-key-0123456789"
ADMIN_TOKEN = "dry-run-admin-token-0123456789"
ROUTES = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  books: {{url: "http://127.0.0.1:{target}", dry_run_writes: true, timeout_s: 5}}
default: legacy
features:
  loans:
    target: books
    state: {state}
    routes:
      - {{methods: [POST, GET], path: "/loans"}}
      - {{methods: [GET], path: "/loans/{{ref}}"}}
"""


@dataclass
class Stack:
    tmp: Path
    facade: str
    admin: str
    routes: Path
    parity_db: Path
    ledger: Path
    legacy_db: Path
    target_db: Path
    env: dict
    procs: dict = field(default_factory=dict)  # name → Popen (the target's is replaced by redeploy_target)
    target_port: int = 0

    def redeploy_target(self, app: str) -> None:
        """Stop the target and start `app` in its place, on the same port and database (a deploy)."""
        stop(self.procs.pop("target"))
        self.procs["target"] = _start_app(app, self.target_port, self.env, self.tmp, "target")

    def _metrics_text(self) -> str:
        return httpx.get(self.admin + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).text

    def metric(self, name: str, **labels: str) -> float:
        for family in text_string_to_metric_families(self._metrics_text()):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def shadow_metrics(self) -> str:
        """Every strangler_shadow_* sample, one per line (what a failed wait reports)."""
        return "\n".join(line for line in self._metrics_text().splitlines() if line.startswith("strangler_shadow_"))

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join((self.tmp / "facade.log").read_text(errors="replace").splitlines()[-lines:])

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "strangler"), *args], env={**os.environ, **self.env}, cwd=self.tmp,
                              capture_output=True, text=True, timeout=60, check=False)


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM loans").fetchone()[0]


def _uvicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), "--app-dir", str(FIXTURES), app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]


def _spawn_app(app: str, port: int, env: dict, tmp: Path, name: str) -> subprocess.Popen:
    """`app` under uvicorn on `port` with its database tmp/NAME.db, started (stopped by the caller)."""
    return spawn(_uvicorn(app, port), env={**env, "LOANS_DATABASE_URL": f"sqlite:///{tmp}/{name}.db"}, cwd=REPO,
                 log_path=tmp / f"{name}.log")


def _healthy(proc: subprocess.Popen, port: int, tmp: Path, name: str) -> None:
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout=30, proc=proc, log_path=tmp / f"{name}.log")


def _start_app(app: str, port: int, env: dict, tmp: Path, name: str) -> subprocess.Popen:
    """`app` under uvicorn on `port` with its database tmp/NAME.db, healthy (stopped by the caller)."""
    proc = _spawn_app(app, port, env, tmp, name)
    try:
        _healthy(proc, port, tmp, name)
    except BaseException:
        stop(proc)
        raise
    return proc


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        stop(proc)


@contextmanager
def loans_stack(tmp: Path, target_app: str, state: str = "shadow") -> Iterator[Stack]:
    """Legacy = loans_app on legacy.db; target = `target_app` (loans_app:app or loans_adapted:app) on
    target.db; the façade in front with the feature in `state`."""
    legacy_port, target_port, facade_port, admin_port = (free_port() for _ in range(4))
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(legacy=legacy_port, target=target_port, state=state))
    env = {"STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_SHADOW_KEY": SHADOW_KEY,
           "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN, "STRANGLER_PARITY_STORE": str(tmp / "parity.db"),
           "STRANGLER_ROUTES_FILE": str(routes), "PYTHONPATH": str(REPO)}
    procs: dict[str, subprocess.Popen] = {}
    with ExitStack() as stack:
        stack.callback(_stop_all, procs)  # at exit, whichever target is running then (see redeploy_target)
        apps = (("legacy", "loans_app:app", legacy_port), ("target", target_app, target_port))
        for name, app, port in apps:  # both apps start while the façade does (it needs no upstream to start)
            procs[name] = _spawn_app(app, port, env, tmp, name)
        legacy = f"http://127.0.0.1:{legacy_port}"
        stack.enter_context(running(
            facade_argv(legacy, facade_port, admin_port, routes, tmp / "parity.db"),
            health_url=f"http://127.0.0.1:{admin_port}/healthz", env=env, cwd=REPO, log_path=tmp / "facade.log",
            timeout=40))
        for name, _app, port in apps:
            _healthy(procs[name], port, tmp, name)
        yield Stack(tmp=tmp, facade=f"http://127.0.0.1:{facade_port}", admin=f"http://127.0.0.1:{admin_port}",
                    routes=routes, parity_db=tmp / "parity.db", ledger=tmp / "var" / "ledger.jsonl",
                    legacy_db=tmp / "legacy.db", target_db=tmp / "target.db", env=env, procs=procs,
                    target_port=target_port)


def wait_for(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


def post_loan(stack: Stack, ref: str) -> None:
    """One loan through the façade: legacy serves it (201); in `shadow` a signed copy goes to the target."""
    answer = httpx.post(stack.facade + "/loans", json={"ref": ref, "isbn": "978-0-14-044913-6", "member": "m"},
                        timeout=10)
    if answer.status_code != 201 or answer.headers.get("x-served-by") != "legacy":
        raise AssertionError(f"POST /loans {ref}: {answer.status_code} from {answer.headers.get('x-served-by')}")


def target_state(stack: Stack) -> dict:
    """The parity store's record of the `books` target ({} before any verdict)."""
    with ParityStore(stack.parity_db, background=False) as store:
        return store.targets().get("books", {})


def prove_then_redeploy(stack: Stack) -> dict:
    """From `legacy` (target: loans_adapted): flip to shadow (the probe passes), one write copy compared and
    rolled back; then redeploy the target without the adapter and send one write: its copy commits and its
    answer marks the target unsafe. Returns the stored verdict (marked_at - first_answer_at: the delay)."""
    flip = stack.cli("flip", "loans", "--to", "shadow", "--routes", str(stack.routes))
    if flip.returncode != 0 or "writes will be shadowed" not in flip.stdout:
        raise AssertionError(f"flip to shadow: {flip.stdout}{flip.stderr}")
    wait_for(lambda: httpx.get(stack.facade + "/loans", timeout=5).headers.get("x-strangler-feature") == "loans",
             "the façade to serve the flipped table")
    post_loan(stack, "before-deploy")
    wait_for(lambda: stack.metric("strangler_shadow_comparisons_total", feature="loans", result="match") >= 2,
             "the write copy (and the read) compared")
    if rows(stack.target_db) != 0 or target_state(stack).get("state") != "proven":
        raise AssertionError(f"before the deploy: {rows(stack.target_db)} target rows, {target_state(stack)}")
    stack.redeploy_target("loans_app:app")  # the same service, deployed without strangler_app
    post_loan(stack, "first-after-deploy")
    wait_for(lambda: target_state(stack).get("state") == "unsafe", "the target to be marked unsafe")
    return target_state(stack)


def committed_delay_ms(stack: Stack, timeout: float = 10.0) -> float:
    """From the façade's log line for the unsafe target: ms from the unacknowledged answer (read by the shadow
    worker) to the verdict committed in the parity store. (The store's marked_at - first_answer_at stops at the
    start of that write: it leaves out the store's lock and commit.)"""
    found: list[float] = []

    def logged() -> bool:
        text = (stack.tmp / "facade.log").read_text(errors="replace")
        found[:] = [float(m) for m in re.findall(r"marked unsafe ([0-9.]+) ms after that answer", text)]
        return bool(found)

    wait_for(logged, "the façade's 'marked unsafe' log line", timeout)
    return found[0]
