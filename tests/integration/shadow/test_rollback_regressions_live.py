"""Rollback on regressions, not on noise, and promotion on evidence — through REAL processes: mitmdump running
the façade addons (kit gates as `strangler up` hands them) in front of a tiny legacy/target pair
(regress_app.py).

- account (canary 50 %, shadow_other_side): the target answers 403 to every request carrying Authorization,
  legacy 200 → the status-class change rolls it back to shadow; flipping it up again is refused with the
  figures until forced (ledgered).
- lookup (new, shadow_other_side, min_clients 1): one client sends inputs both sides answer 500 → NO rollback.
- blind (new, no comparison, so legacy's answer is unknown): one client's 500s → NO rollback (min_clients).
"""
from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.evidence import recent_figures
from proxy.parity.store import open_store
from proxy.table import State, load_table
from strangler.gates import SPEC as KIT_GATES
from strangler.procs import free_port, running
from tests.integration.shadow.conftest import wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOKEN = "regression-admin-token-0123456789"
MIN_SAMPLES = 20
ROUTES = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5, breaker: {{failure_threshold: 100000}}}}
  svc: {{url: "http://127.0.0.1:{svc}", timeout_s: 5, breaker: {{failure_threshold: 100000}}}}
default: legacy
features:
  account:
    target: svc
    state: canary
    canary_percent: 50
    routes: [{{methods: [GET], path: "/account/{{n}}"}}]
    parity: {{shadow_other_side: true, noise_sample_rate: 0}}
    rollback: {{max_error_rate: 0.05, max_status_change_rate: 0.2, min_samples: {n}}}
  lookup:
    target: svc
    state: new
    routes: [{{methods: [GET], path: "/lookup/{{n}}"}}]
    parity: {{shadow_other_side: true, noise_sample_rate: 0}}
    rollback: {{max_error_rate: 0.05, min_samples: {n}, min_clients: 1}}
  blind:
    target: svc
    state: new
    routes: [{{methods: [GET], path: "/blind/{{n}}"}}]
    rollback: {{max_error_rate: 0.05, min_samples: {n}}}
"""


@dataclass
class Stack:
    facade: str
    admin: str
    routes: Path
    ledger: Path
    parity_db: Path

    def admin_call(self, method: str, path: str, **kw) -> httpx.Response:
        return httpx.request(method, self.admin + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10,
                             **kw)

    def window(self, feature: str) -> dict[str, float]:
        """The façade's rollback window figures for `feature` (strangler_rollback_window gauge)."""
        out = {}
        for family in text_string_to_metric_families(self.admin_call("GET", "/metrics").text):
            for s in family.samples:
                if s.name == "strangler_rollback_window" and s.labels.get("feature") == feature:
                    out[s.labels["figure"]] = s.value
        return out

    def state(self, feature: str) -> State:
        return load_table(self.routes).features[feature].state


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("regressions")
    legacy, svc, facade, admin = (free_port() for _ in range(4))
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(legacy=legacy, svc=svc, n=MIN_SAMPLES))
    env = {"STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_ADMIN_TOKEN": TOKEN}
    with ExitStack() as stack:
        for role, port in (("legacy", legacy), ("target", svc)):
            stack.enter_context(running(
                [str(BIN / "uvicorn"), "--app-dir", str(HERE), "regress_app:app", "--host", "127.0.0.1", "--port",
                 str(port), "--log-level", "warning", "--no-access-log"], env={"UPSTREAM_ROLE": role},
                health_url=f"http://127.0.0.1:{port}/healthz", log_path=tmp / f"{role}.log"))
        stack.enter_context(running(
            [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{facade}",
             "--set", "connection_strategy=lazy", "--set", "keep_host_header=true", "--set", "flow_detail=0",
             "--set", "termlog_verbosity=warn", "-s", str(REPO / "proxy" / "facade.py"),
             "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin}",
             "--set", f"strangler_parity_db={tmp / 'parity.db'}", "--set", "strangler_reload_ms=100",
             "--set", f"strangler_gates={KIT_GATES}"],
            health_url=f"http://127.0.0.1:{admin}/healthz", env=env, cwd=REPO, log_path=tmp / "facade.log",
            timeout=40))
        yield Stack(f"http://127.0.0.1:{facade}", f"http://127.0.0.1:{admin}", routes, tmp / "var" / "ledger.jsonl",
                    tmp / "parity.db")




def _ledger(stack: Stack) -> list[dict]:
    return [json.loads(line) for line in stack.ledger.read_text().splitlines()] if stack.ledger.exists() else []


def _both_failed(stack: Stack, feature: str) -> int:
    """Stored comparisons of `feature` where legacy and the target both answered 500."""
    if not stack.parity_db.exists():
        return 0
    store = open_store(stack.parity_db, background=False)
    try:
        return sum(1 for s in store.recent(feature, 500) if tuple(s.detail.get("status") or ()) == (500, 500))
    finally:
        store.close()


def test_logged_in_403s_in_canary_roll_back_and_a_promotion_is_refused_then_forced(stack: Stack) -> None:
    served: dict[str, int] = {}
    with httpx.Client(timeout=10) as client:
        for i in range(200):  # bounded: the rollback needs MIN_SAMPLES comparisons from >= 3 users
            if stack.state("account") is not State.CANARY:
                break
            r = client.get(f"{stack.facade}/account/{i}", headers={"Authorization": f"Bearer token-{i}",
                                                                   "X-Strangler-Cohort": f"user-{i}"})
            served[r.headers.get("x-served-by", "?")] = served.get(r.headers.get("x-served-by", "?"), 0) + 1
    wait_for(lambda: stack.state("account") is State.SHADOW, "the rollback of account")
    # the ledger line is appended just after the table is replaced (same lock): wait for it, not only the state
    (entry,) = wait_for(lambda: [e for e in _ledger(stack) if e["feature"] == "account"
                                 and e["actor"] == "auto-rollback"], "the rollback's ledger entry")
    evidence = entry["evidence"]
    print(f"\naccount: served {served}; rolled back {entry['from_state']} {entry['from_percent']:g}% -> "
          f"{entry['to_state']}: {entry['reason']}; evidence samples={evidence['samples']} "
          f"status_changes={evidence['status_changes']} clients={evidence['clients']} "
          f"error_rate={evidence['error_rate']} diff_rate={evidence['diff_rate']} p95_ms={evidence['p95_ms']}")
    assert served.get("svc", 0) > 0 and served.get("legacy", 0) > 0  # both sides served logged-in users
    assert evidence["limit"] == "max_status_change_rate" and evidence["regressions"] == 0
    assert evidence["status_change_rate"] > 0.2 and evidence["clients"] >= 3
    assert {"samples", "diff_rate", "error_rate", "p95_ms"} <= set(evidence)

    rules = load_table(stack.routes).features["account"].parity  # comparisons reach the store in batches
    wait_for(lambda: recent_figures(stack.parity_db, "account", rules).samples >= MIN_SAMPLES,
             "the canary's comparisons in the parity store")
    body = {"feature": "account", "to": "canary", "percent": 50, "reason": "try again"}
    refused = stack.admin_call("POST", "/flip", json=body)
    print(f"refused promotion (admin API {refused.status_code}): {refused.json()['reasons']}")
    assert refused.status_code == 409
    (reason,) = [r for r in refused.json()["reasons"] if "promotion" in r]
    assert "diff rate" in reason and "> 1.0% (promote.max_diff_rate)" in reason and "Fix:" in reason
    assert stack.state("account") is State.SHADOW
    forced = stack.admin_call("POST", "/flip", json={**body, "force": True})
    assert forced.status_code == 200, forced.text
    record = _ledger(stack)[-1]
    assert record["forced"] is True and record["to_state"] == "canary" and record["actor"] == "admin-api"
    (overridden,) = record["evidence"]["overridden"]  # the same refusal (late comparisons may move its counts)
    assert overridden.startswith("promotion of 'account' to canary 50% is not backed by its recent parity")
    assert "(promote.max_diff_rate)" in overridden and record["evidence"]["diff_rate"] > 0.2
    assert record["evidence"]["samples"] >= MIN_SAMPLES


@pytest.mark.parametrize("feature", ["lookup", "blind"])
def test_one_client_sending_inputs_both_sides_fail_on_rolls_nothing_back(stack: Stack, feature: str) -> None:
    """lookup: compared with legacy, so its 500s are not regressions; blind: not compared, so they count, but one
    client is below rollback.min_clients."""
    requests = 0
    with httpx.Client(timeout=10) as client:
        for i in range(3 * MIN_SAMPLES):  # unauthenticated, no cohort header: one client (its address)
            assert client.get(f"{stack.facade}/{feature}/bad-{i}").status_code == 500
            requests += 1
    figures = wait_for(lambda: (w := stack.window(feature)).get("samples") == MIN_SAMPLES and w,
                       f"a full rollback window for {feature}")
    time.sleep(1.0)  # several evaluation rounds (every 0.25 s) over the full window
    figures = stack.window(feature)
    print(f"\n{feature}: {requests} requests, window of {figures['samples']:.0f}: errors seen "
          f"{figures['errors']:.0f}, errors counted (regressions) {figures['regressions']:.0f}, "
          f"error rate {figures['error_rate']:.1%}; state {stack.state(feature).value}")
    assert stack.state(feature) is State.NEW
    assert not [e for e in _ledger(stack) if e["feature"] == feature]
    assert figures["errors"] == MIN_SAMPLES
    if feature == "lookup":
        assert figures["regressions"] == 0 and figures["error_rate"] == 0.0
        both = wait_for(lambda: (n := _both_failed(stack, feature)) >= MIN_SAMPLES and n,
                        "the comparisons in the parity store")  # written in batches
        print(f"{feature}: {both} comparisons in the parity store with legacy 500 and target 500 (the same input)")
    else:
        assert figures["regressions"] == MIN_SAMPLES  # counted, yet one client cannot roll it back alone
