"""Issue 18, items 6 and 7, through real processes: a mitmdump façade shadows a legacy/candidate pair
(rules_app.py) and its route table is edited while it runs, as a team would.

- Verdicts follow the rules: adding an ignore rule for a timestamp that differs legacy-vs-legacy changes the
  report at once (no `parity reset`, history kept); removing it and adding it back never turns that field
  "real" (it was: the tracker forgot its noise while the rule applied).
- Formats vs values: `suggest-ignores` says "no noise samples yet" for a feature whose legacy was never asked
  twice and "no field varied" for one whose legacy answers never varied (it said "needs legacy asked twice"
  after 115 noise samples); it proposes the ignore rule for the noise field and normalisers (instant, number)
  for the format-only fields; once they are in the table, those comparisons are "equal after normalising"
  with the rules named, `present` included (creation times that cannot match across two databases).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.procs import free_port, running
from tests.integration.parity.conftest import CLI, REPO
from tests.integration.proxy.facade_stack import facade_argv

pytestmark = pytest.mark.integration
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ROUTES = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  svc: {{url: "http://127.0.0.1:{candidate}", timeout_s: 5}}
default: legacy
features:
  stamp:
    target: svc
    state: shadow
    routes: [{{methods: [GET], path: "/api/stamp/{{n}}"}}]
    parity:
      noise_sample_rate: 1.0
{stamp_rules}
  calm:
    target: svc
    state: shadow
    routes: [{{methods: [GET], path: "/api/calm/{{n}}"}}]
    parity: {{noise_sample_rate: 1.0}}
  quiet:
    target: svc
    state: shadow
    routes: [{{methods: [GET], path: "/api/quiet/{{n}}"}}]
    parity: {{noise_sample_rate: 0}}
"""
PRESENT = '      normalise: {"$.createdAt": present}'
IGNORE = '      ignore: ["$.servedAt"]'
FORMATS = '      normalise: {"$.createdAt": present, "$.at": instant, "$.n": number}'
BATCH = 8


@dataclass
class RulesStack:
    facade: str
    admin: str
    routes: Path
    ports: dict[str, int]
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], env={**os.environ, **self.env, "COLUMNS": "160"}, cwd=REPO,
                              capture_output=True, text=True, timeout=90)

    def report(self, feature: str) -> dict[str, Any]:
        done = self.cli("parity", "report", feature, "--json", "--routes", str(self.routes))
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)["features"][feature]

    def verdicts(self, feature: str = "stamp") -> dict[str, str]:
        return {f["field"]: f["verdict"] for f in self.report(feature)["fields"]}

    def set_rules(self, *lines: str) -> None:
        """Edit the façade's own route table and wait until it serves the new version."""
        text = ROUTES.format(**self.ports, stamp_rules="\n".join(lines))
        if self.routes.read_text() == text:
            return
        before = httpx.get(self.admin + "/healthz", timeout=10).json()["table_version"]
        self.routes.write_text(text)
        _wait(lambda: httpx.get(self.admin + "/healthz", timeout=10).json()["table_version"] != before,
              "the façade to reload its route table")

    def compared(self, feature: str) -> int:
        """The feature's comparisons in the store, all time (0 before the first: the report exits 1)."""
        done = self.cli("parity", "report", feature, "--json", "--routes", str(self.routes))
        return json.loads(done.stdout)["features"][feature]["compared"] if done.returncode == 0 else 0

    def send(self, feature: str, n: int = BATCH) -> int:
        """n requests through the façade, then wait until the store holds all of the feature's comparisons.
        Returns how many it held before."""
        start = self.compared(feature)
        with httpx.Client(base_url=self.facade, timeout=10) as client:
            for i in range(start, start + n):
                assert client.get(f"/api/{feature}/{i}").status_code == 200
        _wait(lambda: self.compared(feature) == start + n, f"{start + n} comparisons of {feature}")
        return start


def _wait(check, what: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not check():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def rules_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RulesStack]:
    tmp = tmp_path_factory.mktemp("parity-rules")
    legacy, candidate, facade, admin = (free_port() for _ in range(4))
    ports = {"legacy": legacy, "candidate": candidate}
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(**ports, stamp_rules=PRESENT))
    env = {"STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_ADMIN_TOKEN": "parity-rules-admin-0123456789",
           "STRANGLER_PARITY_STORE": str(tmp / "parity.db")}
    with ExitStack() as stack:
        for role, port in (("legacy", legacy), ("candidate", candidate)):
            stack.enter_context(running(
                [str(BIN / "uvicorn"), "--app-dir", str(HERE), "rules_app:app", "--host", "127.0.0.1", "--port",
                 str(port), "--log-level", "warning", "--no-access-log"], health_url=f"http://127.0.0.1:{port}/healthz",
                env={"UPSTREAM_ROLE": role}, log_path=tmp / f"{role}.log"))
        stack.enter_context(running(
            [*facade_argv(legacy, facade, routes, admin, tmp / "access.log"),
             "--set", f"strangler_parity_db={tmp / 'parity.db'}"],
            health_url=f"http://127.0.0.1:{admin}/healthz", env=env, cwd=REPO, log_path=tmp / "facade.log",
            timeout=40))
        yield RulesStack(f"http://127.0.0.1:{facade}", f"http://127.0.0.1:{admin}", routes, ports, env)


def test_ignore_rule_changes_apply_at_once_and_never_turn_a_noise_timestamp_real(rules_stack: RulesStack) -> None:
    s = rules_stack
    s.set_rules(PRESENT)
    start = s.send("stamp")
    assert s.verdicts()["$.servedAt"] == "noise"
    s.set_rules(PRESENT, IGNORE)            # added: the report follows at once, before any new comparison
    assert "$.servedAt" not in s.verdicts() and s.compared("stamp") == start + BATCH  # nothing reset
    s.send("stamp")                         # recorded while the rule applied
    s.set_rules(PRESENT)                    # removed: still noise over all of them, never "real"
    assert s.verdicts()["$.servedAt"] == "noise"
    s.send("stamp")
    report = s.report("stamp")
    (served_at,) = [f for f in report["fields"] if f["field"] == "$.servedAt"]
    print(f"\n$.servedAt after add/remove/traffic: {served_at}")
    assert served_at["verdict"] == "noise" and served_at["compared"] == start + 3 * BATCH
    assert all("$.servedAt" not in g["fields"] for g in report["groups"] if g["cause"] != "noise")
    s.set_rules(PRESENT, IGNORE)            # re-added
    assert "$.servedAt" not in s.verdicts()


def test_suggest_ignores_tells_no_samples_from_no_variation_and_proposes_normalisers(rules_stack: RulesStack) -> None:
    s = rules_stack
    s.send("quiet")
    s.send("calm")
    quiet = s.cli("parity", "suggest-ignores", "quiet", "--routes", str(s.routes))
    calm = s.cli("parity", "suggest-ignores", "calm", "--routes", str(s.routes))
    print(f"\n$ strangler parity suggest-ignores quiet\n{quiet.stdout}$ strangler parity suggest-ignores calm\n"
          f"{calm.stdout}")
    assert quiet.returncode == 0 and "No noise samples yet for 'quiet'" in " ".join(quiet.stdout.split())
    assert calm.returncode == 0 and (f"No field varied between two legacy answers for 'calm' ({BATCH} noise "
                                     "samples" in " ".join(calm.stdout.split())), calm.stdout
    s.set_rules(PRESENT)
    s.send("stamp")
    done = s.cli("parity", "suggest-ignores", "stamp", "--routes", str(s.routes))
    print(f"$ strangler parity suggest-ignores stamp\n{done.stdout}")
    data = json.loads(s.cli("parity", "suggest-ignores", "stamp", "--json", "--routes", str(s.routes)).stdout)
    assert data["suggested"] == ["$.servedAt"] and data["normalise"] == {"$.at": "instant", "$.n": "number"}
    assert "$.createdAt" not in s.verdicts()  # present on both sides: never a difference, whatever its value

    s.set_rules(FORMATS, IGNORE)            # what suggest-ignores proposed, as a team would apply it
    before = s.send("stamp")
    groups = {g["cause"]: g for g in s.report("stamp")["groups"]}
    normalised = groups["normalised"]
    print(f"stamp groups: {[g['headline'] for g in groups.values()]}")
    assert normalised["label"] == "instant, number, present" and normalised["count"] == BATCH
    assert normalised["headline"] == f"equal after normalising (instant, number, present) on {BATCH} requests"
    assert groups["body"]["count"] == before and set(groups["body"]["fields"]) == {"$.at", "$.n"}  # older ones
