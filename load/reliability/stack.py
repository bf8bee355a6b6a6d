"""The demo stack exactly as `strangler up` runs it (config/stack.yaml, the same Supervisor), on free loopback
ports with a small seed, plus what the reliability probes need from it: flips, a killable service, RSS.

Automatic rollback is switched off in the live table (limits removed) so a feature stays in the state a
probe put it in; rollback has tests of its own. The planted LEGACY_TZ bug is fixed (CATALOG_LEGACY_TZ) so
shadow parity is clean. Flips go through proxy.flips.flip_feature — the code path of `strangler flip` —
without the kit's gates (backfill/sync evidence is not what these probes test).
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from proxy.flips import flip_feature
from strangler.procs import free_port, spawn, wait_http
from strangler.stack import load_stack, resolve
from strangler.supervisor import Supervisor

ROOT = Path(__file__).resolve().parents[2]
SEED = {"LEGACY_SEED_PRODUCTS": "200", "LEGACY_SEED_CUSTOMERS": "50", "LEGACY_SEED_ORDERS": "200"}
# env of the calling shell that would point the stack elsewhere than its own var/ directory
_FOREIGN_ENV = ("STRANGLER_ROUTES_FILE", "STRANGLER_STORE_URL", "STRANGLER_ADMIN_TOKEN", "STRANGLER_SHADOW_KEY",
                "LEGACY_DATABASE_URL", "CATALOG_DATABASE_URL", "ORDERS_DATABASE_URL", "STRANGLER_SQL_CAPTURE")


@dataclass
class DemoStack:
    sup: Supervisor
    var: Path
    admin_port: int
    token: str

    def proc(self, name: str):
        return next(s for s in self.sup.slots if s.spec.name == name)

    def url(self, name: str = "facade") -> str:
        return self.proc(name).spec.url

    @property
    def facade_port(self) -> int:
        return self.proc("facade").spec.port

    @property
    def routes(self) -> Path:
        return self.var / "routes.yaml"

    def admin(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.admin_port}{path}",
                         headers={"Authorization": f"Bearer {self.token}"}, timeout=10)

    def flip(self, features: str | tuple[str, ...], to: str, percent: float | None = None, *,
             wait_s: float = 10.0) -> None:
        """Flip one or more features in the live table, then wait (bounded) until the façade serves EVERY one of
        them in `to` (a reload may pick the file up between two features' flips: a newer version alone is not
        enough)."""
        names = (features,) if isinstance(features, str) else features
        for feature in names:
            flip_feature(self.routes, feature, to, percent=percent, actor="reliability", reason="reliability probe",
                         ledger_path=self.var / "ledger.jsonl")

        def served() -> bool:
            live = self.admin("/routes").json()["features"]
            return all(live[f]["state"] == to and (percent is None or live[f]["canary_percent"] == percent)
                       for f in names)
        wait_until(served, wait_s, f"flip {features}->{to}")

    def shadow_worker_pids(self) -> list[int]:
        """The façade's shadow worker pids (one per worker), from its /metrics; bounded wait for them to start."""
        def pids() -> list[int]:
            found = [int(float(line.split()[-1])) for line in self.admin("/metrics").text.splitlines()
                     if line.startswith("strangler_shadow_worker_pid")]
            return found if found and all(found) else []
        return wait_until(pids, 10.0, "the façade's shadow workers started (see the façade's log)")

    def kill(self, name: str) -> None:
        """SIGKILL a process group of the stack (no graceful stop: a crash)."""
        with suppress(ProcessLookupError):
            os.killpg(self.proc(name).proc.pid, signal.SIGKILL)
        self.proc(name).proc.wait(timeout=10)

    def restart(self, name: str) -> None:
        """Start a killed process again, as the supervisor would, and wait until it is healthy."""
        slot = self.proc(name)
        spec = slot.spec
        slot.proc = spawn(spec.argv, env=spec.env, log_path=spec.log_path, cwd=spec.cwd)
        wait_http(spec.health_url, timeout=spec.ready_timeout, proc=slot.proc, log_path=spec.log_path)

    def backfill(self, *features: str, timeout: float = 120) -> None:
        """`strangler migrate backfill FEATURE` for each feature, all at once (each writes its own database)."""
        env = {**{k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}, **self.proc("facade").spec.env}
        runs = {f: subprocess.Popen([sys.executable, "-m", "strangler", "migrate", "backfill", f], env=env, cwd=ROOT,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for f in features}
        for feature, proc in runs.items():
            out, _ = proc.communicate(timeout=timeout)
            if proc.returncode != 0:
                raise RuntimeError(f"strangler migrate backfill {feature} failed:\n{out}")


def wait_until(check, timeout: float, what: str, every: float = 0.05):
    """Poll `check` until it returns something truthy; bounded, fails naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            value = check()
            if value:
                return value
        time.sleep(every)
    raise TimeoutError(f"{what}: not reached within {timeout:g}s")


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (Linux /proc)."""
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    if found is None:
        raise RuntimeError(f"no VmRSS line in /proc/{pid}/status (process {pid} gone, or not Linux)")
    return int(found.group(1))


@contextmanager
def demo_stack(var: Path, names: tuple[str, ...] = ()) -> Iterator[DemoStack]:
    """The processes of config/stack.yaml (all, or `names`), catalog and orders backfilled; every process
    stopped on exit."""
    var.mkdir(parents=True, exist_ok=True)
    template = (ROOT / "config" / "routes.yaml").read_text()
    (var / "routes.yaml").write_text(re.sub(r"(?m)^    rollback: \{.*\}$", "    rollback: {min_samples: 200}",
                                            template))
    stack = load_stack(ROOT / "config" / "stack.yaml")
    admin_port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
    environ.update(SEED, STRANGLER_ADMIN_PORT=str(admin_port), CATALOG_LEGACY_TZ="Europe/London",
                   STRANGLER_VAR_DIR=str(var))
    plan = resolve(stack, var_dir=var, environ=environ, names=names,
                   port_overrides={name: free_port() for name in stack.config.processes})
    with Supervisor(plan, log=lambda msg: None) as sup:
        facade_env = next(p for p in plan.processes if p.name == "facade").env
        demo = DemoStack(sup=sup, var=var, admin_port=admin_port, token=facade_env["STRANGLER_ADMIN_TOKEN"])
        wait_http(f"http://127.0.0.1:{admin_port}/healthz", timeout=30)
        demo.backfill("catalog", "orders")
        yield demo
